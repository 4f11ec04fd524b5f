"""The CRM network (ESRGAN's RRDBNet without upsampling), its registry entries and its loader.

``crm-rrdb8`` is ``RRDBNet(in 3, out 3, nf 64, nb 8, gc 32)``, 5,795,843 parameters; ``crm-q90`` is the same
architecture with shipped weights. Parameter names follow the official ``RRDB.py`` so official state dicts load
(``docs/irn-extensions.md``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from invrestore.errors import CheckpointError
from invrestore.models.registry import register_model
from invrestore.nn.subnets import DenseBlock

__all__ = ["CRM", "RRDB", "SHIPPED_CRMS", "ResidualDenseBlock", "load_crm"]


class ResidualDenseBlock(nn.Module):
    """ESRGAN's ``ResidualDenseBlock_5C``: ``x + 0.2 · DenseBlock(x)`` with ``nf → nf`` channels.

    Official initialisation (``RRDB.py``): conv1–4 ``kaiming_normal_(fan_in) × 0.1`` with zero bias, conv5 zero.
    The convs keep the official names ``conv1`` … ``conv5`` so official state dicts load.

    Args:
        nf: feature channels.
        gc: growth channels.
    """

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        body = DenseBlock(nf, nf, gc=gc)
        self.conv1, self.conv2, self.conv3, self.conv4, self.conv5 = (
            body.conv1,
            body.conv2,
            body.conv3,
            body.conv4,
            body.conv5,
        )
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            with torch.no_grad():
                conv.weight.mul_(0.1)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.conv5.weight)
        if self.conv5.bias is not None:
            nn.init.zeros_(self.conv5.bias)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three :class:`ResidualDenseBlock` then ``0.2 · out + x``."""

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.RDB1 = ResidualDenseBlock(nf, gc)
        self.RDB2 = ResidualDenseBlock(nf, gc)
        self.RDB3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: Tensor) -> Tensor:
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class CRM(nn.Module):
    """The compression-restoration module: RRDBNet without upsampling, ``(B, 3, h, w) -> (B, 3, h, w)``.

    ``fea = conv_first(x); fea = fea + trunk_conv(RRDB×nb(fea)); out = conv_last(fea)``; no input-to-output skip.
    ``conv_first``, ``trunk_conv`` and ``conv_last`` keep PyTorch's default initialisation (as the official code).
    Parameter names follow the official ``RRDBNet`` (``conv_first``, ``RRDB_trunk.k.RDBj.convi``, ``trunk_conv``,
    ``conv_last``). With the defaults: 5,795,843 parameters.

    Args:
        in_nc: input channels.
        out_nc: output channels.
        nf: feature channels.
        nb: number of RRDBs.
        gc: growth channels.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 8, gc: int = 32) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1, bias=True)
        self.RRDB_trunk = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_last = nn.Conv2d(nf, out_nc, 3, 1, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.RRDB_trunk(fea))
        out: Tensor = self.conv_last(fea)
        return out


_RRDB8 = {"in_nc": 3, "out_nc": 3, "nf": 64, "nb": 8, "gc": 32}

register_model(
    "crm-rrdb8",
    CRM,
    family="irn",
    trainer="irn-crm",
    kwargs=_RRDB8,
    params=5_795_843,
    description="IRN CRM: RRDBNet(3, 3, nf 64, nb 8, gc 32) JPEG restoration of the LR",
)
register_model(  # the same architecture with shipped weights
    "crm-q90",
    CRM,
    family="irn",
    trainer="irn-crm",
    kwargs=_RRDB8,
    params=5_795_843,
    description="CRM for JPEG q90 (4:2:0) of an IRN ×2 LR (trained behind irn-x2-noise, best with irn-x2)",
    pretrained="crm-q90.safetensors",
    task="JPEG q90 of the irn-x2 / irn-x2-noise LR",
)


#: Each shipped CRM: its JPEG quality and the IRNs it was measured to help, the one it was trained behind first.
#: crm-q90 was trained behind irn-x2-noise but helps the plain irn-x2 more (Kodak24 q90: 28.59 → 29.16 dB, against
#: 27.76 → 28.25 behind irn-x2-noise; see its model card).
SHIPPED_CRMS: dict[str, tuple[int, tuple[str, ...]]] = {"crm-q90": (90, ("irn-x2-noise", "irn-x2"))}


def load_crm(path: str | Path) -> CRM:
    """A :class:`CRM` with the weights of ``path``, its size (``nf``, ``nb``, ``gc``, channels) read from the keys.

    ``path`` is a safetensors file or a torch ``.pth`` (official ``RRDBNet`` state dicts, ``module.``-prefixed or
    wrapped ones too), a training checkpoint folder holding ``model.safetensors``, or the name of a shipped CRM
    (``crm-q90``; a file of that name in the current folder wins). Returned in eval mode.

    Raises:
        CheckpointError: missing or unreadable file, or weights that are not those of a CRM (RRDBNet).
    """
    from invrestore.models.irn.model import _unwrap_state_dict, load_into
    from invrestore.train.checkpoint import load_weights

    src = Path(path)
    if not src.exists() and str(path) in SHIPPED_CRMS:
        from invrestore.models.registry import create_model

        shipped = create_model(str(path), pretrained=True)
        assert isinstance(shipped, CRM)
        return shipped.eval()
    if src.is_dir() and (src / "model.safetensors").is_file():
        src = src / "model.safetensors"
    sd = load_weights(src)
    if src.suffix != ".safetensors":
        try:
            sd = _unwrap_state_dict(sd)
        except CheckpointError as e:
            raise CheckpointError(f"'{path}': {e}") from e
    needed = ("conv_first.weight", "trunk_conv.weight", "conv_last.weight", "RRDB_trunk.0.RDB1.conv1.weight")
    if any(k not in sd or sd[k].ndim != 4 for k in needed):
        keys = ", ".join(list(sd)[:4]) or "none"
        raise CheckpointError(f"'{path}' does not hold CRM (RRDBNet) weights (first keys: {keys})")
    nb = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("RRDB_trunk.") and k.split(".")[1].isdigit())
    nf, in_nc = sd["conv_first.weight"].shape[:2]
    gc = sd["RRDB_trunk.0.RDB1.conv1.weight"].shape[0]
    out_nc = sd["conv_last.weight"].shape[0]
    crm = CRM(in_nc=int(in_nc), out_nc=int(out_nc), nf=int(nf), nb=nb, gc=int(gc))
    load_into(crm, sd, source=f"'{path}'")
    return crm.eval()
