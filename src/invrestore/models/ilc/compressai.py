"""Loading CompressAI ``bmshj2018-factorized`` checkpoints (``FactorizedPrior``) as ILC teachers.

CompressAI (InterDigital's learned-compression library) publishes the factorized-prior model of Ballé et al.
(ICLR 2018) at eight qualities (``N = 128, M = 192`` for 1–5, ``N = 192, M = 320`` for 6–8). Its state dict and
ours (:class:`~invrestore.models.ilc.BLS2017` with ``topology="bmshj2018-factorized"``) differ as follows;
:func:`load_compressai_teacher` maps one onto the other (details and tested properties: ``docs/peers.md``).

====================================================  =====================================================
CompressAI key                                        invrestore
====================================================  =====================================================
``g_a.{0,2,4,6}.weight/bias``, ``g_s.{0,2,4,6}.*``    same keys (5×5 stride-2 convs / transposed convs)
``g_a.{1,3,5}.beta/gamma`` (and ``g_s``)              same keys: both store the reparametrised ``p`` with
                                                      ``value = max(p, √(min + ε²))² − ε²``, ``ε = 2⁻¹⁸``
``…beta_reparam.pedestal``, ``…lower_bound.bound``    checked (``ε²`` and the bound); values are converted
                                                      through the effective β, γ if they differ
``entropy_bottleneck._matrix{k}/_bias{k}/_factor{k}``  ``entropy_bottleneck.matrices.{k}/biases.{k}/factors.{k}``
(older files: ``_matrices.{k}``, ``_biases.{k}``, …)
``entropy_bottleneck.quantiles``                      ``entropy_bottleneck.quantiles`` (medians = column 1)
``entropy_bottleneck.target``                         gives ``tail_mass`` (``t = log(2/τ − 1)``)
``entropy_bottleneck.likelihood_lower_bound.bound``   gives ``likelihood_bound``
``_quantized_cdf``, ``_cdf_length``, ``_offset``      not used: our tables are rebuilt from the density
====================================================  =====================================================

The coding tables have the same *layout* in both libraries (per channel: offset ``−⌈m − q_lo⌉``, length
``L + 2``, a 16-bit CDF over ``L`` bins plus one escape bin), but the CDF values depend on the quantization of
the probabilities and the escape handling of the entropy coder, which differ between CompressAI's rANS coder and
ours. So the tables are rebuilt with :meth:`~invrestore.entropy.EntropyBottleneck.update` from the stored
density and the stored quantiles (the ones CompressAI codes with); files written by CompressAI cannot be
decoded here, nor ours there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from invrestore.entropy.bottleneck import EntropyBottleneck
from invrestore.entropy.gdn import GDN
from invrestore.errors import CheckpointError
from invrestore.models.ilc.bls2017 import BLS2017

__all__ = ["compressai_config", "compressai_to_invrestore", "detect_compressai", "load_compressai_teacher"]

_GDN_INDICES = (1, 3, 5)
_CONV_INDICES = (0, 2, 4, 6)
_TABLES = ("_quantized_cdf", "_cdf_length", "_offset", "_medians")
_EB = "entropy_bottleneck."
_OLD_EB = re.compile(r"entropy_bottleneck\._(matrices|biases|factors)\.(\d+)")
_OLD_NAMES = {"matrices": "_matrix", "biases": "_bias", "factors": "_factor"}


def _unwrap(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The model state dict of a CompressAI file: plain, or a training checkpoint's ``"state_dict"``; CompressAI's
    old entropy-bottleneck names (``_matrices.0``) and ``module.`` prefixes are normalised."""
    state = obj.get("state_dict", obj)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"the checkpoint's 'state_dict' is a {type(state).__name__}, not a state dict")
    out: dict[str, Any] = {}
    for key, value in state.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        m = _OLD_EB.fullmatch(key)
        if m is not None:
            key = f"{_EB}{_OLD_NAMES[m.group(1)]}{m.group(2)}"
        out[key] = value
    return out


def _looks_like_compressai(state: Mapping[str, Any]) -> bool:
    return "g_a.0.weight" in state and "g_s.0.weight" in state and f"{_EB}_matrix0" in state


def compressai_config(state_dict: Mapping[str, Any]) -> tuple[int, int, tuple[int, ...]]:
    """``(N, M, filters)`` of a CompressAI ``FactorizedPrior`` state dict.

    Raises:
        CheckpointError: not a CompressAI factorized prior (another CompressAI model is named as such).
    """
    state = _unwrap(state_dict)
    if not _looks_like_compressai(state):
        sample = ", ".join(f"'{k}'" for k in list(state)[:3]) or "no keys"
        raise CheckpointError(
            f"not a CompressAI bmshj2018-factorized checkpoint (found {sample}); expected 'g_a.0.weight', "
            "'g_s.0.weight' and 'entropy_bottleneck._matrix0'"
        )
    others = sorted({k.split(".")[0] for k in state} - {"g_a", "g_s", "entropy_bottleneck"})
    if others:
        hint = " (a hyperprior model such as bmshj2018-hyperprior or mbt2018)" if "h_a" in others else ""
        raise CheckpointError(
            f"this CompressAI checkpoint has modules {', '.join(others)}{hint}; only the factorized prior "
            "(bmshj2018-factorized: g_a, g_s, entropy_bottleneck) can be an ILC teacher"
        )
    shapes = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, Tensor)}
    n = shapes.get("g_a.0.weight", (0,))[0]
    m = shapes.get("g_a.6.weight", (0,))[0]
    expected = {
        "g_a.0.weight": (n, 3, 5, 5),
        "g_a.2.weight": (n, n, 5, 5),
        "g_a.4.weight": (n, n, 5, 5),
        "g_a.6.weight": (m, n, 5, 5),
        "g_s.0.weight": (m, n, 5, 5),
        "g_s.2.weight": (n, n, 5, 5),
        "g_s.4.weight": (n, n, 5, 5),
        "g_s.6.weight": (n, 3, 5, 5),
    }
    for key, shape in expected.items():
        if shapes.get(key) != shape:
            raise CheckpointError(
                f"'{key}' has shape {shapes.get(key)}; a bmshj2018-factorized model with N={n}, M={m} needs {shape}"
            )
    filters: list[int] = []
    k = 0
    while f"{_EB}_matrix{k + 1}" in state:
        filters.append(shapes[f"{_EB}_matrix{k}"][1])
        k += 1
    if shapes.get(f"{_EB}_matrix0", (0,))[0] != m:
        raise CheckpointError(f"the entropy bottleneck has {shapes[_EB + '_matrix0'][0]} channels; g_a gives M={m}")
    return n, m, tuple(filters)


def detect_compressai(state_dict: Mapping[str, Any]) -> bool:
    """Whether ``state_dict`` is a CompressAI ``bmshj2018-factorized`` (``FactorizedPrior``) checkpoint."""
    try:
        compressai_config(state_dict)
    except CheckpointError:
        return False
    return True


def _reparam_buffers(state: Mapping[str, Any], prefix: str) -> tuple[float, float] | None:
    """``(pedestal, bound)`` stored for one NonNegativeParametrizer, if the file has them."""
    ped, bound = state.get(f"{prefix}.pedestal"), state.get(f"{prefix}.lower_bound.bound")
    if ped is None or bound is None:
        return None
    return float(torch.as_tensor(ped).reshape(-1)[0]), float(torch.as_tensor(bound).reshape(-1)[0])


def _convert_reparam(p: Tensor, theirs: tuple[float, float] | None, ours: Any) -> Tensor:
    """CompressAI's stored ``p`` of one GDN parameter as ours: copied when the reparametrisations agree (they do
    for every CompressAI release: ``ε = 2⁻¹⁸``, same minima), else through the effective value."""
    our_ped, our_bound = float(ours.pedestal), float(ours.bound)
    if theirs is None or (math.isclose(theirs[0], our_ped, rel_tol=1e-6) and math.isclose(theirs[1], our_bound)):
        return p
    ped, bound = theirs
    value = torch.clamp(p.double(), min=bound) ** 2 - ped
    return torch.sqrt(torch.clamp(value + our_ped, min=our_ped)).to(p.dtype)


def compressai_to_invrestore(
    state_dict: Mapping[str, Any], reference: BLS2017 | None = None
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """Map a CompressAI ``FactorizedPrior`` state dict to our keys.

    Returns:
        ``(state, entropy_options)``: our state dict (without coding tables) and the entropy model's
        ``tail_mass`` / ``likelihood_bound`` read from the file (empty when the file does not store them).

    Raises:
        CheckpointError: not a factorized prior, or keys this mapping does not know.
    """
    state = _unwrap(state_dict)
    n, m, filters = compressai_config(state)
    ref = reference or BLS2017(n, M=m, topology="bmshj2018-factorized")
    out: dict[str, Tensor] = {}
    options: dict[str, float] = {}
    used: set[str] = set()
    for part in ("g_a", "g_s"):
        for i in _CONV_INDICES:
            for p in ("weight", "bias"):
                key = f"{part}.{i}.{p}"
                if key not in state:
                    raise CheckpointError(f"the CompressAI checkpoint has no '{key}'")
                out[key] = state[key]
                used.add(key)
        for i in _GDN_INDICES:
            gdn = getattr(ref, part)[i]
            assert isinstance(gdn, GDN)
            for p, reparam in (("beta", gdn.beta_reparam), ("gamma", gdn.gamma_reparam)):
                key = f"{part}.{i}.{p}"
                if key not in state:
                    raise CheckpointError(f"the CompressAI checkpoint has no '{key}'")
                prefix = f"{part}.{i}.{p}_reparam"
                out[key] = _convert_reparam(state[key], _reparam_buffers(state, prefix), reparam)
                used |= {key, f"{prefix}.pedestal", f"{prefix}.lower_bound.bound"}
    for k in range(len(filters) + 1):
        for theirs, ours in (("_matrix", "matrices"), ("_bias", "biases"), ("_factor", "factors")):
            if theirs == "_factor" and k == len(filters):
                continue
            key = f"{_EB}{theirs}{k}"
            if key not in state:
                raise CheckpointError(f"the CompressAI checkpoint has no '{key}'")
            out[f"{_EB}{ours}.{k}"] = state[key]
            used.add(key)
    if f"{_EB}quantiles" not in state:
        raise CheckpointError("the CompressAI checkpoint has no 'entropy_bottleneck.quantiles'")
    out[f"{_EB}quantiles"] = state[f"{_EB}quantiles"]
    used.add(f"{_EB}quantiles")
    target = state.get(f"{_EB}target")
    if isinstance(target, Tensor) and target.numel() == 3:
        t = float(target.reshape(-1)[2])
        options["tail_mass"] = 2.0 / (math.exp(t) + 1.0)
    bound = state.get(f"{_EB}likelihood_lower_bound.bound")
    if isinstance(bound, Tensor) and bound.numel() == 1:
        options["likelihood_bound"] = float(bound)
    used |= {f"{_EB}target", f"{_EB}likelihood_lower_bound.bound"} | {_EB + t for t in _TABLES}
    unknown = sorted(set(state) - used)
    if unknown:
        raise CheckpointError(f"the CompressAI checkpoint has keys this loader does not know: {', '.join(unknown[:5])}")
    return out, options


def _quantiles_usable(q: Tensor) -> bool:
    q = q.detach().double()
    return bool(torch.isfinite(q).all() and (q[:, 0, 0] <= q[:, 0, 1]).all() and (q[:, 0, 1] <= q[:, 0, 2]).all())


def load_compressai_teacher(
    path_or_state: str | Path | Mapping[str, Any], name: str | None = None, refit_quantiles: bool = False
) -> BLS2017:
    """A CompressAI ``bmshj2018-factorized`` checkpoint as our :class:`BLS2017` teacher, in eval mode with tables.

    Args:
        path_or_state: A ``.pth``/``.pth.tar`` file (read with ``torch.load(weights_only=True)``; a training
            checkpoint's ``"state_dict"`` is used) or a state dict.
        name: Model id written into compressed files (default ``bmshj2018-factorized-N-M``).
        refit_quantiles: Re-fit the quantiles (and so the medians used for rounding) by bisection instead of
            keeping the stored ones; stored quantiles that are not finite or not ordered are always re-fitted.

    Returns:
        The teacher: ``g_a``/``g_s``/``entropy_bottleneck`` equal CompressAI's ``FactorizedPrior`` on inputs whose
        sides are multiples of 16 (others are padded centred and cropped back), and ``compress``/``decompress``
        work with our coder. ``latent_channels`` is ``M``; an ILC distilled from it needs ``latent_channels=M``.

    Raises:
        CheckpointError: unreadable file or not a CompressAI factorized prior (the message says what it is).
    """
    if isinstance(path_or_state, Mapping):
        raw: Mapping[str, Any] = path_or_state
    else:
        from invrestore.train.checkpoint import load_weights

        raw = load_weights(path_or_state)
    state = _unwrap(raw)
    n, m, filters = compressai_config(state)
    teacher = BLS2017(n, name=name, M=m, topology="bmshj2018-factorized")
    mapped, options = compressai_to_invrestore(state, reference=teacher)
    if filters != teacher.entropy_bottleneck.filters or options:
        teacher.entropy_bottleneck = EntropyBottleneck(m, filters=filters, **options)  # type: ignore[arg-type]
    missing, unexpected = teacher.load_state_dict(mapped, strict=False)
    tables = {f"{_EB}quantized_cdf", f"{_EB}cdf_length", f"{_EB}offset"}
    if unexpected or set(missing) != tables:
        raise CheckpointError(f"cannot map the CompressAI checkpoint (missing {missing}, unexpected {unexpected})")
    refit = refit_quantiles or not _quantiles_usable(teacher.entropy_bottleneck.quantiles)
    teacher.entropy_bottleneck.update(force=True, update_quantiles=refit)
    return teacher.eval()
