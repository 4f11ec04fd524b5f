"""Fixtures of the ILC-family tests."""

from __future__ import annotations

import pytest
from ilc_helpers import fit_tiny_codec

from invrestore.models.ilc import BLS2017


@pytest.fixture(scope="session")
def tiny_codec() -> BLS2017:
    """``BLS2017(N=8)`` fitted for 150 steps on a 64×64 crop, with coding tables."""
    return fit_tiny_codec()
