"""ILC family (Wang et al. 2020, invertible lossy compression); for now its teacher codec ``bls2017-N``."""

from invrestore.models.ilc.bls2017 import BLS2017

__all__ = ["BLS2017"]
