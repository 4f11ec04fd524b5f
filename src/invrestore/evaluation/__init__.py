"""Evaluation protocols (``irn``, ``vdsr``, ``lapsrn``), rescaling methods and dataset evaluation.

Example::

    from invrestore.evaluation import BicubicMethod, evaluate_dataset
    result = evaluate_dataset(images, BicubicMethod(), scale=4, protocol="vdsr")
    result.means["psnr_y"], result.rows()
"""

from invrestore.degradations.rescaling import BicubicMethod, RescalingMethod
from invrestore.evaluation.dataset import METRIC_KEYS, DatasetResult, evaluate_dataset
from invrestore.evaluation.protocols import PROTOCOLS, EvaluationProtocol, ImageResult, get_protocol, modcrop

__all__ = [
    "METRIC_KEYS",
    "PROTOCOLS",
    "BicubicMethod",
    "DatasetResult",
    "EvaluationProtocol",
    "ImageResult",
    "RescalingMethod",
    "evaluate_dataset",
    "get_protocol",
    "modcrop",
]
