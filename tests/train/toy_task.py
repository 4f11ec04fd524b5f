"""A tiny task for testing the generic training loop (importable by the DDP worker script)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from invrestore.train import OptimConfig, TrainConfig
from invrestore.train.task import BaseTask


class _Data(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, n: int = 24) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 2, 6, 6, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i]}


@dataclass(frozen=True)
class ToyConfig:
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            steps=8,
            batch_size=4,
            log_every=1,
            val_every=4,
            ckpt_every=2,
            optim=OptimConfig(milestones=(4,), lr=1e-2),
        )
    )


class ToyTask(BaseTask[ToyConfig]):
    best_metric = "score"

    def __init__(self, cfg: ToyConfig | None = None) -> None:
        super().__init__(cfg or ToyConfig())
        self.name = "toy"

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 3, padding=1))

    def train_dataset(self) -> Dataset[Any]:
        return _Data()

    def training_step(
        self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        x = batch["x"]
        noise = torch.randn(x.shape, generator=generator, device=x.device)
        loss = ((model(x + 0.1 * noise) - x) ** 2).mean()
        return loss, {"loss": float(loss.detach())}

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        x = _Data().x.to(device)
        return {"score": -float(((model(x) - x) ** 2).mean())}


class TwoNetTask(ToyTask):
    """Two networks with one named loss each (the shape of a GAN step), optimised by two optimisers."""

    def __init__(self, cfg: ToyConfig | None = None, schedule: str = "multistep") -> None:
        super().__init__(cfg)
        self.name = "two"
        self.schedule = schedule

    def build_model(self) -> nn.Module:
        return nn.ModuleDict({"a": nn.Conv2d(2, 2, 3, padding=1), "b": nn.Conv2d(2, 2, 3, padding=1)})

    def param_groups(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        return {"a": list(model["a"].parameters()), "b": list(model["b"].parameters())}  # type: ignore[index]

    def optim_configs(self) -> dict[str, OptimConfig]:
        return {
            "a": OptimConfig(lr=1e-2, schedule=self.schedule, decay_start=4, gamma=0.1, plateau_patience=0),
            "b": OptimConfig(lr=1e-3, milestones=(2,)),
        }

    def training_step(  # type: ignore[override]
        self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        x = batch["x"]
        la = ((model["a"](x) - x) ** 2).mean()  # type: ignore[index]
        lb = ((model["b"](x) + x) ** 2).mean()  # type: ignore[index]
        return {"a": la, "b": lb}, {"la": float(la.detach()), "lb": float(lb.detach())}

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        return {"score": 0.0}  # never improves after the first validation: the plateau rule fires
