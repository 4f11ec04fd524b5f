"""Registry of invertible blocks with small example configurations.

``tests/nn/test_invertible_contract.py`` is parametrised over :data:`BLOCK_REGISTRY`: every registered example
is checked for exact invertibility, cancelling log-dets, the log-det against an autograd Jacobian,
dtype/device following and batch independence. To cover a new block, register a small example (keep ``C·H·W``
below ~150 so the float64 Jacobian stays cheap)::

    @register_block("my_block", input_shape=(4, 4, 4))
    def _my_block() -> InvertibleModule:
        return MyBlock(4)

The builder is called with a fixed seed; the test perturbs all trainable parameters with noise so that
zero-init subnets do not make the checks trivial.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from invrestore.nn.actnorm import ActNorm
from invrestore.nn.base import FactorOut, Inverse, InvertibleModule, InvertibleSequential
from invrestore.nn.conv1x1 import InvConv1x1
from invrestore.nn.coupling import AdditiveCoupling, AffineCoupling, InvBlock
from invrestore.nn.downsampling import LearnableDownsampling
from invrestore.nn.haar import HaarDownsampling
from invrestore.nn.squeeze import Squeeze, Unsqueeze
from invrestore.nn.subnets import DenseBlock, subnet_factory

__all__ = ["BLOCK_REGISTRY", "BlockExample", "register_block"]

Builder = Callable[[], InvertibleModule]


@dataclass(frozen=True)
class BlockExample:
    """A small example configuration of a block.

    Attributes:
        name: registry key.
        build: zero-argument constructor.
        input_shape: ``(C, H, W)`` of one sample.
        cond_shape: ``(C_cond, H, W)`` of one sample's ``cond``, or None if the example takes no ``cond``.
    """

    name: str
    build: Builder
    input_shape: tuple[int, int, int]
    cond_shape: tuple[int, int, int] | None = None


BLOCK_REGISTRY: dict[str, BlockExample] = {}


def register_block(
    name: str, input_shape: tuple[int, int, int], cond_shape: tuple[int, int, int] | None = None
) -> Callable[[Builder], Builder]:
    """Decorator registering a zero-argument builder under ``name``.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def deco(build: Builder) -> Builder:
        if name in BLOCK_REGISTRY:
            raise ValueError(f"block example {name!r} is already registered")
        BLOCK_REGISTRY[name] = BlockExample(name, build, input_shape, cond_shape)
        return build

    return deco


_tiny_dense = functools.partial(DenseBlock, gc=8)
_tiny_glow = subnet_factory("glow", hidden=8)


# -- reshaping / fixed transforms ----------------------------------------------------------------------------
register_block("haar", (2, 4, 4))(lambda: HaarDownsampling(2))
register_block("squeeze_band_2", (2, 4, 4))(lambda: Squeeze(2, "band"))
register_block("squeeze_glow_2", (2, 4, 4))(lambda: Squeeze(2, "glow"))
register_block("squeeze_band_3", (1, 6, 3))(lambda: Squeeze(3, "band"))
register_block("unsqueeze_glow_2", (8, 2, 3))(lambda: Unsqueeze(2, "glow"))

# -- learned linear transforms -------------------------------------------------------------------------------
register_block("learnable_downsampling_3", (2, 6, 6))(lambda: LearnableDownsampling(2, 3))
register_block("learnable_downsampling_2", (3, 4, 4))(lambda: LearnableDownsampling(3, 2))
register_block("actnorm", (3, 4, 4))(lambda: ActNorm(3))
register_block("inv_conv1x1", (4, 3, 3))(lambda: InvConv1x1(4))
register_block("inv_conv1x1_lu_orthogonal", (4, 3, 3))(lambda: InvConv1x1(4, lu=True, init="orthogonal"))

# -- couplings -----------------------------------------------------------------------------------------------
register_block("additive_coupling_channel", (4, 3, 3))(lambda: AdditiveCoupling(4, _tiny_glow))
register_block("additive_coupling_checkerboard", (2, 4, 4))(
    lambda: AdditiveCoupling(2, subnet_factory("resnet", hidden=8, n_blocks=1), mask="checkerboard")
)
for _fn in ("irn", "glow", "atan", "tanh", "exp"):
    register_block(f"affine_coupling_{_fn}", (4, 3, 3))(
        functools.partial(AffineCoupling, 4, _tiny_glow, scale_fn=_fn, clamp=1.5)
    )
register_block("affine_coupling_reverse_split", (5, 3, 3))(
    lambda: AffineCoupling(5, subnet_factory("bottleneck", hidden=8), split=2, reverse=True, layout="halves")
)
register_block("affine_coupling_checkerboard", (2, 4, 4))(
    lambda: AffineCoupling(2, subnet_factory("densenet", growth=4, steps=2), mask="checkerboard", reverse=True)
)
register_block("affine_coupling_cond", (4, 3, 3), cond_shape=(2, 3, 3))(
    lambda: AffineCoupling(4, subnet_factory("resnet", hidden=8, n_blocks=1), cond_channels=2)
)
register_block("inv_block", (6, 3, 3))(lambda: InvBlock(6, split=3, subnet=_tiny_dense))
register_block("inv_block_colour", (3, 3, 3))(lambda: InvBlock(3, split=1, subnet=_tiny_dense))
register_block("inv_block_cond", (5, 3, 3), cond_shape=(1, 3, 3))(
    lambda: InvBlock(5, split=2, subnet=_tiny_dense, cond_channels=1)
)


# -- composites ----------------------------------------------------------------------------------------------
@register_block("glow_step", (4, 3, 3))
def _glow_step() -> InvertibleModule:
    return InvertibleSequential(
        ActNorm(4), InvConv1x1(4, lu=True, init="orthogonal"), AffineCoupling(4, _tiny_glow, scale_fn="glow")
    )


@register_block("inverse_inv_block", (5, 3, 3))
def _inverse_inv_block() -> InvertibleModule:
    return Inverse(InvBlock(5, split=2, subnet=_tiny_dense))


@register_block("irn_like_sequential_memory_efficient", (1, 4, 4))
def _irn_like() -> InvertibleModule:
    return InvertibleSequential(
        HaarDownsampling(1),
        InvBlock(4, split=1, subnet=_tiny_dense),
        InvBlock(4, split=1, subnet=_tiny_dense),
        memory_efficient=True,
    )


@register_block("factor_out_multiscale", (2, 4, 4))
def _factor_out() -> InvertibleModule:
    inner = InvertibleSequential(
        Squeeze(2, "glow"), AffineCoupling(16, _tiny_glow, scale_fn="tanh"), Unsqueeze(2, "glow")
    )
    return InvertibleSequential(
        Squeeze(2, "glow"), AdditiveCoupling(8, _tiny_glow), FactorOut(4, inner), Unsqueeze(2, "glow")
    )
