"""Invertible building blocks (no model knowledge).

Contract (see :class:`InvertibleModule` and ``docs/invertible.md``): ``y, logdet = block(x, cond)`` and
``x, -logdet = block.inverse(y, cond)``, ``logdet`` of shape ``(B,)`` on ``x``'s device and dtype.
"""

from invrestore.nn.actnorm import ActNorm, data_initialize
from invrestore.nn.base import (
    FactorOut,
    Inverse,
    InvertibleModule,
    InvertibleSequential,
    ReconstructedGrad,
    standard_normal_log_prob,
)
from invrestore.nn.conv1x1 import InvConv1x1
from invrestore.nn.coupling import (
    SCALE_FUNCTIONS,
    AdditiveCoupling,
    AffineCoupling,
    InvBlock,
    ScaleFunction,
    checkerboard_mask,
)
from invrestore.nn.downsampling import LearnableDownsampling
from invrestore.nn.haar import HaarDownsampling, haar_filters
from invrestore.nn.memory import SavedTensorCounter
from invrestore.nn.registry import BLOCK_REGISTRY, BlockExample, register_block
from invrestore.nn.squeeze import Squeeze, Unsqueeze, squeeze2d, unsqueeze2d
from invrestore.nn.subnets import (
    SUBNETS,
    BottleneckSubnet,
    DenseBlock,
    DenseNetSubnet,
    GlowSubnet,
    ResNetSubnet,
    SubnetFactory,
    ZeroConv2d,
    subnet_factory,
)

__all__ = [
    "BLOCK_REGISTRY",
    "SCALE_FUNCTIONS",
    "SUBNETS",
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "BlockExample",
    "BottleneckSubnet",
    "DenseBlock",
    "DenseNetSubnet",
    "FactorOut",
    "GlowSubnet",
    "HaarDownsampling",
    "InvBlock",
    "InvConv1x1",
    "Inverse",
    "InvertibleModule",
    "InvertibleSequential",
    "LearnableDownsampling",
    "ReconstructedGrad",
    "ResNetSubnet",
    "SavedTensorCounter",
    "ScaleFunction",
    "Squeeze",
    "SubnetFactory",
    "Unsqueeze",
    "ZeroConv2d",
    "checkerboard_mask",
    "data_initialize",
    "haar_filters",
    "register_block",
    "squeeze2d",
    "standard_normal_log_prob",
    "subnet_factory",
    "unsqueeze2d",
]
