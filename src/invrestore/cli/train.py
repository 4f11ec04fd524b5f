"""``invrestore train CONFIG``: train a model family from a YAML preset (single process or under torchrun)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from invrestore.errors import ConfigError


def _families() -> dict[str, tuple[type, Callable[[Any], Any]]]:
    from invrestore.models.baselines.config import BaselineConfig
    from invrestore.models.baselines.steps import BaselineTask
    from invrestore.models.ilc.config import BLS2017Config, ILCConfig
    from invrestore.models.ilc.steps import BLS2017Task, ILCTask
    from invrestore.models.irae.config import IRAEConfig
    from invrestore.models.irae.steps import IRAETask
    from invrestore.models.irn.config import IRNConfig
    from invrestore.models.irn.crm import CRMConfig, CRMTask
    from invrestore.models.irn.plus import IRNPlusConfig, IRNPlusTask
    from invrestore.models.irn.steps import IRNTask
    from invrestore.models.pix2pix.config import Pix2PixConfig
    from invrestore.models.pix2pix.steps import Pix2PixTask
    from invrestore.models.selfvae.config import SelfVAEConfig
    from invrestore.models.selfvae.steps import SelfVAETask

    return {
        "irn": (IRNConfig, IRNTask),
        "irn-plus": (IRNPlusConfig, IRNPlusTask),
        "irn-crm": (CRMConfig, CRMTask),
        "ilc": (ILCConfig, ILCTask),
        "bls2017": (BLS2017Config, BLS2017Task),
        "irae": (IRAEConfig, IRAETask),
        "pix2pix": (Pix2PixConfig, Pix2PixTask),
        "selfvae": (SelfVAEConfig, SelfVAETask),
        "baselines": (BaselineConfig, BaselineTask),
    }


def load_task(config: str | Path, overrides: tuple[str, ...] = ()) -> Any:
    """Read a YAML preset, apply ``key=value`` overrides, and build the family's task."""
    from omegaconf import OmegaConf

    from invrestore.train.config import load_config

    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found (presets live in configs/<family>/)")
    try:
        raw = OmegaConf.load(path)
        family = raw.get("family") if OmegaConf.is_dict(raw) else None  # type: ignore[union-attr,arg-type]
    except Exception as e:
        raise ConfigError(f"cannot parse config '{path}': {e}") from e
    families = _families()
    if family not in families:
        raise ConfigError(f"config '{path}' has family={family!r}; known families: {', '.join(families)}")
    schema, task_cls = families[family]
    cfg: Any = load_config(schema, path, overrides)
    return task_cls(cfg)


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value (repeatable).")
@click.option("--run-dir", type=click.Path(file_okay=False), default=None, help="Output folder (default runs/<name>).")
@click.option("--max-steps", type=int, default=None, help="Stop (with a checkpoint) at this step; resume later.")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop (with a checkpoint) after this much wall time; resume later.",
)
@click.option("--no-resume", is_flag=True, help="Start from scratch even if run-dir has a checkpoint.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(
    config: str,
    overrides: tuple[str, ...],
    run_dir: str | None,
    max_steps: int | None,
    time_limit: float | None,
    no_resume: bool,
    no_progress: bool,
) -> None:
    """Train from a YAML preset, e.g. configs/irn/x4.yaml, resuming from RUN_DIR/last when present.

    Multi-GPU / multi-process: torchrun --nproc_per_node=N -m invrestore train CONFIG ...
    """
    from invrestore.train import fit

    task = load_task(config, overrides)
    out = Path(run_dir) if run_dir else Path("runs") / Path(config).stem
    res = fit(task, out, resume=not no_resume, progress=not no_progress, max_steps=max_steps, time_limit=time_limit)
    msg = f"stopped at step {res.step}; checkpoints in {res.run_dir}"
    if res.best is not None:
        msg += f"; best {task.best_metric} = {res.best:.3f}"
    if res.world_size > 1:
        msg += f"; parameters identical on all {res.world_size} ranks"
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        click.echo(msg)
        finalize = getattr(task, "finalize", None)  # learned codecs: weights with coding tables for `compress`
        if finalize is not None:
            click.echo(f"codec weights with coding tables: {finalize(res.run_dir)}")
    if dist.is_initialized():
        dist.barrier()  # every rank is done with the group before any rank tears it down
        dist.destroy_process_group()
