"""The IRN+ generator/discriminator pair, the ``irn-x4-plus`` entry and the generator export.

``irn-x4-plus`` is the IRN ×4 architecture (4,355,376 parameters) after the GAN stage; :class:`IRNPlus` is what
IRN+ training holds (G, D and the step counter), and :func:`export_generator` turns one of its checkpoints into a
plain IRN file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from invrestore.errors import CheckpointError
from invrestore.models.irn.model import IRN
from invrestore.models.registry import register_model

__all__ = ["IRNPlus", "export_generator", "generator_state_dict"]

register_model(
    "irn-x4-plus",
    IRN,
    family="irn",
    trainer="irn-plus",
    kwargs={"scale": 4, "blocks": [8, 8]},
    params=4_355_376,
    description="IRN+ ×4: the IRN ×4 architecture after the GAN stage",
)


class IRNPlus(nn.Module):
    """The generator/discriminator pair trained by IRN+; ``forward``/``inverse`` are the generator's.

    State-dict keys are ``generator.*`` (an IRN, official layout below the prefix), ``discriminator.*`` and
    ``iteration`` (training steps taken; drives the D-only warm-up). :func:`generator_state_dict` strips the rest.
    The step count is mirrored on the host (:meth:`advance`), so a training step never reads the device buffer;
    loading a state dict resets the mirror.
    """

    iteration: Tensor

    def __init__(self, generator: IRN, discriminator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self._steps: int | None = 0
        self.register_load_state_dict_post_hook(IRNPlus._forget_steps)

    @staticmethod
    def _forget_steps(module: nn.Module, incompatible: Any) -> None:
        if isinstance(module, IRNPlus):
            module._steps = None

    def advance(self) -> int:
        """Count one training step (the ``iteration`` buffer and its host mirror); returns the new count.

        The buffer is read from the device only once after construction or a ``load_state_dict``.
        """
        if self._steps is None:
            self._steps = int(self.iteration)
        with torch.no_grad():
            self.iteration += 1
        self._steps += 1
        return self._steps

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.generator(x)  # type: ignore[no-any-return]

    def inverse(self, out: Tensor) -> tuple[Tensor, Tensor]:
        return self.generator.inverse(out)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{"g": G's trainable parameters (not the frozen Haar filters), "d": D's}``."""
        return {
            "g": [p for p in self.generator.parameters() if p.requires_grad],
            "d": [p for p in self.discriminator.parameters() if p.requires_grad],
        }


def generator_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The IRN weights of an :class:`IRNPlus` state dict (``generator.`` prefix removed; D and counter dropped)."""
    p = "generator."
    out = {k[len(p) :]: v for k, v in state.items() if k.startswith(p)}
    if not out:
        raise CheckpointError("the state dict holds no 'generator.*' keys: is it an IRN+ training checkpoint?")
    return out


def export_generator(checkpoint: str | Path, out: str | Path) -> Path:
    """Write the generator of an IRN+ run checkpoint (a ``last/``/``best/`` folder or its ``model.safetensors``)
    as a plain IRN safetensors file that ``load_official_checkpoint(out, "irn-x4-plus")`` and the CLI accept."""
    from invrestore.train.checkpoint import load_weights, save_weights

    src = Path(checkpoint)
    if src.is_dir():
        src = src / "model.safetensors"
    sd = generator_state_dict(load_weights(src))
    out = Path(out)
    save_weights(sd, out, metadata={"source": str(src), "model": "IRN+ generator"})
    return out
