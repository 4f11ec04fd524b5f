"""``invrestore train CONFIG``: train a model family from a YAML preset (single process or under torchrun).

The preset's ``family:`` picks the registered task (:func:`invrestore.models.registry.load_task`, which validates
the whole config before anything trains); ``load_task`` is importable from here too.
"""

from __future__ import annotations

from pathlib import Path

import click

from invrestore.models.registry import load_task

__all__ = ["load_task", "train"]


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
@click.option(
    "--profile",
    "profile_spec",
    default=None,
    metavar="N|START:N",
    help="Profile N steps (after 20 warm-up steps, or from step START) into RUN_DIR/profile.json and profile.txt.",
)
@click.option(
    "--fast",
    is_flag=True,
    help="The family's recommended fast path (bf16, channels-last, fused Adam, device-resident data; "
    "docs/training.md), before --set values, which win.",
)
@click.option("--no-resume", is_flag=True, help="Start from scratch even if run-dir has a checkpoint.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(
    config: str,
    overrides: tuple[str, ...],
    run_dir: str | None,
    max_steps: int | None,
    time_limit: float | None,
    profile_spec: str | None,
    fast: bool,
    no_resume: bool,
    no_progress: bool,
) -> None:
    """Train from a YAML preset, e.g. configs/irn/x4.yaml, resuming from RUN_DIR/last when present.

    Multi-GPU / multi-process: torchrun --nproc_per_node=N -m invrestore train CONFIG ...
    """
    from invrestore.train import fit
    from invrestore.train.profiling import parse_profile_spec

    try:
        profile = parse_profile_spec(profile_spec) if profile_spec is not None else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--profile") from None
    task = load_task(config, overrides, fast=fast)
    out = Path(run_dir) if run_dir else Path("runs") / Path(config).stem
    res = fit(
        task,
        out,
        resume=not no_resume,
        progress=not no_progress,
        max_steps=max_steps,
        time_limit=time_limit,
        profile=profile,
    )
    msg = f"stopped at step {res.step}; checkpoints in {res.run_dir}"
    if res.best is not None:
        msg += f"; best {task.best_metric} = {res.best:.3f}"
    if res.world_size > 1:
        msg += f"; parameters identical on all {res.world_size} ranks"
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        click.echo(msg)
        if profile is not None:
            where = res.run_dir / "profile.json"
            click.echo(f"profile: {where}" if where.is_file() else "profile: the run ended before the profiled steps")
        deployable = task.finalize(res.run_dir)  # learned codecs: weights with coding tables for `compress`
        if deployable is not None:
            click.echo(f"codec weights with coding tables: {deployable}")
    if dist.is_initialized():
        dist.barrier()  # every rank is done with the group before any rank tears it down
        dist.destroy_process_group()
