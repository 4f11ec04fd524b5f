"""Rescaling methods (re-exported): :class:`RescalingMethod` and :class:`BicubicMethod` are defined in
:mod:`invrestore.degradations.rescaling`, below the models, and stay importable from here and from
:mod:`invrestore.evaluation`."""

from invrestore.degradations.rescaling import BicubicMethod, RescalingMethod

__all__ = ["BicubicMethod", "RescalingMethod"]
