"""The registry drives these tests: every model ``invrestore.models.list_models()`` returns is built and checked.

For each entry, on the smallest input its model accepts (found from the model: ``image_size`` for fixed-size
generative models, else the smallest multiple of ``multiple`` / ``downsampling_factor`` / ``scale`` that runs):

- it builds and its forward pass gives finite outputs;
- where it is invertible it inverts: IRN-style rescalers reproduce ``x`` from ``downscale`` then ``upscale`` with
  the same ``z``, models with an ``inverse`` give ``inverse(forward(x)) ≈ x``, codecs with an invertible
  transform give ``synthesis(analysis(x)) ≈ x`` (on randomly perturbed weights, so zero-initialised subnets do not
  make the check trivial);
- its ``state_dict`` survives a safetensors save/load into a fresh instance (same tensors, identical outputs);
- its parameter count is the one the entry declares.

A new registered model is covered without touching this file. Every entry must declare ``params``; every entry that a
task of its family can train (the task's model config takes its name and its builder takes the config's settings)
must declare that ``trainer``, and every declared trainer must be such a task (the family contract).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from invrestore.models import MODELS, create_model, list_models
from invrestore.models.registry import list_tasks
from invrestore.train.checkpoint import load_weights, save_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nn"))
from invertible_helpers import perturb_parameters

REPO = Path(__file__).resolve().parents[2]
NAMES = list_models()
#: Largest side tried when looking for the smallest input a model accepts.
MAX_SIDE = 512
#: Round-trip tolerance (float32, max absolute error on [0, 1] images).
INVERSE_ATOL = 1e-4


@dataclass
class Probe:
    """One registered model, built once for all the checks of this module, with its example input."""

    name: str
    model: nn.Module
    args: tuple[Any, ...] = ()
    output: Any = None
    error: BaseException | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _build(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model(name).eval()


def _declared_multiple(model: nn.Module) -> int:
    """The side multiple the model asks for (``multiple``, ``downsampling_factor`` and ``scale`` attributes)."""
    m = 1
    for attr in ("multiple", "downsampling_factor", "scale"):
        v = getattr(model, attr, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 1:
            m = math.lcm(m, v)
    return m


def _forward_params(model: nn.Module) -> list[inspect.Parameter]:
    return [
        p
        for p in inspect.signature(model.forward).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]


def _generator_kwargs(model: nn.Module) -> dict[str, Any]:
    """A fixed generator for models whose forward samples (VAEs; codecs in train mode)."""
    if "generator" in inspect.signature(model.forward).parameters:
        return {"generator": torch.Generator().manual_seed(0)}
    return {}


def _example_args(model: nn.Module, side: int) -> tuple[Any, ...]:
    """The forward's positional arguments: 8-bit-valued images in [0, 1] (``(B, C, H, W)``, ``C`` from
    ``in_channels``), a noise level for a ``sigma`` argument, and a channel split for a second image argument
    (a conditional discriminator's ``(cond, x)``)."""
    g = torch.Generator().manual_seed(1)
    channels = int(getattr(model, "in_channels", 3))
    required = _forward_params(model)

    def image(c: int) -> Tensor:
        return (torch.rand(1, c, side, side, generator=g) * 255).round() / 255

    if len(required) == 1:
        return (image(channels),)
    if len(required) == 2 and required[1].name == "sigma":
        return image(channels), 25 / 255
    if len(required) == 2:
        return image(channels - channels // 2), image(channels // 2)
    raise AssertionError(
        f"{type(model).__name__}.forward takes {[p.name for p in required]}; teach _example_args in {__file__} "
        "what to pass"
    )


def _run(model: nn.Module, args: tuple[Any, ...]) -> Any:
    with torch.no_grad():
        return model(*args, **_generator_kwargs(model))


def _find_input(probe: Probe) -> None:
    """The smallest square input the model accepts: its fixed ``image_size``, else the first multiple of its
    declared multiple that runs."""
    model = probe.model
    fixed = getattr(model, "image_size", None)
    sides = (
        [fixed] if isinstance(fixed, int) else range(_declared_multiple(model), MAX_SIDE + 1, _declared_multiple(model))
    )
    last: BaseException | None = None
    for side in sides:
        args = _example_args(model, side)
        try:
            probe.output = _run(model, args)
        except (RuntimeError, ValueError) as e:  # too small for a kernel, a pooling or a size check
            last = e
            continue
        probe.args, probe.notes["side"] = args, side
        return
    probe.error = last


def tensors(obj: Any) -> Iterator[Tensor]:
    """Every tensor in a model output (tensors, tuples, lists, dicts, dataclasses)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from tensors(o)
    elif isinstance(obj, dict):
        for k in sorted(obj):
            yield from tensors(obj[k])
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from tensors(getattr(obj, f.name))


@pytest.fixture(scope="module", params=NAMES)
def probe(request: pytest.FixtureRequest) -> Iterator[Probe]:
    """Module-scoped and parametrised, so pytest runs all checks of one model together and builds it once."""
    name = request.param
    p = Probe(name, _build(name))
    _find_input(p)
    yield p
    del p.model, p.output


def _needs_forward(probe: Probe) -> None:
    if probe.error is not None:
        pytest.fail(f"{probe.name}: no input up to {MAX_SIDE}² runs: {type(probe.error).__name__}: {probe.error}")


# -- per model ----------------------------------------------------------------------------------------------------
def test_builds(probe: Probe) -> None:
    assert isinstance(probe.model, nn.Module)
    assert any(True for _ in probe.model.parameters()), f"{probe.name} has no parameters"


def test_forward(probe: Probe) -> None:
    _needs_forward(probe)
    outs = list(tensors(probe.output))
    assert outs, f"{probe.name}: forward returned no tensor ({type(probe.output).__name__})"
    for t in outs:
        if t.is_floating_point():
            assert torch.isfinite(t).all(), f"{probe.name}: non-finite forward output"


def _perturbed(model: nn.Module) -> nn.Module:
    m = copy.deepcopy(model)
    perturb_parameters(m, scale=0.01)
    return m.eval()


def _max_err(a: Tensor, b: Tensor) -> float:
    assert a.shape == b.shape, f"{tuple(a.shape)} != {tuple(b.shape)}"
    return (a - b).abs().max().item()


def test_inverse_round_trip(probe: Probe) -> None:
    _needs_forward(probe)
    base = probe.model
    x = probe.args[0]
    invertible = [k for k in ("downscale", "inverse", "analysis") if callable(getattr(base, k, None))]
    if not invertible:
        pytest.skip(f"{probe.name} is not invertible")
    model = _perturbed(base)
    with torch.no_grad():
        if "downscale" in invertible and callable(getattr(model, "upscale", None)):
            y, z = model.downscale(x, quantize=False)  # type: ignore[operator]
            err = _max_err(model.upscale(y, z), x)  # type: ignore[operator]
            assert err <= INVERSE_ATOL, f"{probe.name}: upscale(downscale(x)) differs by {err:.2e}"
        if "inverse" in invertible:
            out = model(x)
            fwd, logdet = (out[0], out[1]) if isinstance(out, tuple) else (out, None)
            back = model.inverse(fwd)  # type: ignore[operator]
            rec, logdet_inv = (back[0], back[1]) if isinstance(back, tuple) else (back, None)
            err = _max_err(rec, x)
            assert err <= INVERSE_ATOL, f"{probe.name}: inverse(forward(x)) differs by {err:.2e}"
            if isinstance(logdet, Tensor) and isinstance(logdet_inv, Tensor):
                torch.testing.assert_close(logdet_inv, -logdet, rtol=1e-4, atol=1e-3)
        if "analysis" in invertible and callable(getattr(model, "synthesis", None)):
            y, z = model.analysis(x)  # type: ignore[operator]
            err = _max_err(model.synthesis(y, z), x)  # type: ignore[operator]
            assert err <= INVERSE_ATOL, f"{probe.name}: synthesis(analysis(x)) differs by {err:.2e}"


def test_state_dict_round_trip(probe: Probe, tmp_path: Path) -> None:
    """Saved with ``save_weights`` and loaded with ``load_weights`` into a fresh instance whose parameters were
    first moved away from the original's: the same tensors and identical outputs."""
    _needs_forward(probe)
    path = tmp_path / f"{probe.name}.safetensors"
    save_weights(probe.model.state_dict(), path)
    fresh = _build(probe.name, seed=1)
    perturb_parameters(fresh, scale=0.01, seed=7)
    fresh.load_state_dict(load_weights(path))
    fresh.eval()
    want, got = probe.model.state_dict(), fresh.state_dict()
    assert list(got) == list(want)
    for k in want:
        assert torch.equal(got[k], want[k]), f"{probe.name}: '{k}' differs after the round trip"
    del want, got
    for a, b in zip(tensors(_run(probe.model, probe.args)), tensors(_run(fresh, probe.args)), strict=True):
        assert torch.equal(a, b), f"{probe.name}: outputs differ after the state-dict round trip"


def test_parameter_count_is_the_declared_one(probe: Probe) -> None:
    declared = MODELS[probe.name].params
    if declared is None:
        pytest.skip(f"{probe.name} declares no params (see test_every_entry_declares_params)")
    count = sum(p.numel() for p in probe.model.parameters())
    assert count == declared, f"{probe.name}: {count:,} parameters, the entry declares {declared:,}"


# -- the registry as a whole ----------------------------------------------------------------------------------------
def _task_folder(key: str) -> str:
    """The family folder (``invrestore.models.<folder>``) whose package defines the task ``key``."""
    from invrestore.models.registry import TASKS

    parts = TASKS[key].task.__module__.split(".")
    return parts[2] if parts[:2] == ["invrestore", "models"] and len(parts) > 2 else ""


def _task_can_build(key: str, name: str) -> str | None:
    """Why the task ``key`` cannot train the registered model ``name`` (None: it can): its config, with
    ``model.name`` set to ``name`` and everything else at its defaults (or, for a model that needs other data, as
    in one of the task's presets in ``configs/``), must pass the checks ``load_task`` runs (the config's own and
    the registry's: the builder accepts every model setting)."""
    from omegaconf import OmegaConf

    from invrestore.errors import ConfigError
    from invrestore.models.registry import TASKS, check_model_config
    from invrestore.train.config import merge_config

    presets = [p for p in sorted((REPO / "configs").rglob("*.yaml")) if OmegaConf.load(p).get("family") == key]
    why = None
    for base in [{}, *(OmegaConf.load(p) for p in presets)]:
        try:
            cfg: Any = merge_config(TASKS[key].config, base, {"model": {"name": name}})
            if getattr(getattr(cfg, "model", None), "name", None) != name:
                return f"task '{key}' has no model config with a name"
            check_model_config(cfg)
        except ConfigError as e:
            why = why or str(e)
            continue
        return None
    return why


def test_every_entry_declares_params() -> None:
    missing = [n for n in NAMES if MODELS[n].params is None]
    assert not missing, f"entries without params= (declare the documented parameter count): {', '.join(missing)}"


def test_every_family_with_presets_registers_its_tasks() -> None:
    tasks = set(list_tasks())
    with_presets = {p.name for p in (REPO / "configs").iterdir() if p.is_dir() and any(p.glob("*.yaml"))}
    folders = {_task_folder(k) for k in tasks}
    assert with_presets <= folders, f"families with presets but no registered task: {sorted(with_presets - folders)}"


def test_every_trainer_is_a_registered_task_that_can_build_the_model() -> None:
    tasks = set(list_tasks())
    problems = []
    for n in NAMES:
        key = MODELS[n].trainer
        if key is None:
            continue
        if key not in tasks:
            problems.append(f"{n}: trainer={key!r} is not a registered task ({', '.join(sorted(tasks))})")
        elif (why := _task_can_build(key, n)) is not None:
            problems.append(f"{n}: trainer={key!r} cannot build it: {why}")
    assert not problems, "\n".join(problems)


def test_every_trainable_entry_declares_its_trainer() -> None:
    """``trainer=None`` is for models no task of their family can train (e.g. imported third-party layouts)."""
    tasks = list_tasks()
    problems = []
    for n in NAMES:
        e = MODELS[n]
        if e.trainer is not None:
            continue
        able = [k for k in tasks if _task_folder(k) == e.family and _task_can_build(k, n) is None]
        if able:
            problems.append(f"{n}: declares no trainer=, but task(s) {', '.join(able)} can train it")
        elif not any(_task_folder(k) == e.family for k in tasks):
            problems.append(f"{n}: family '{e.family}' registers no task yet, so the entry's trainer is undecided")
    assert not problems, "\n".join(problems)


def test_the_registry_lists_every_family() -> None:
    from invrestore.models.registry import FAMILIES

    assert {MODELS[n].family for n in NAMES} == set(FAMILIES)
