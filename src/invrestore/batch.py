"""Batch inference over many files: input expansion, output naming, sharding under ``torchrun``, ``--resume``,
progress and a summary.

The file commands (``downscale``, ``upscale``, ``decolorize``, ``colorize``, ``restore``, ``compress``,
``decompress``) all follow these batch semantics:

1. **Inputs** are files, folders (their image files, sorted by name; ``--recursive`` descends into sub-folders) and
   glob patterns (``"photos/*.jpg"``, ``"shots/**/*.png"``; quote them so the shell does not expand them). A
   pattern or folder that matches no file is an error; a file named twice is processed once.
2. **Before anything is written**, every input's header is read (size, format) and every output name is computed:
   a missing or unreadable file, an image above the pixel limit, or two inputs that would write the same output
   (``a.png`` and ``a.jpg`` both give ``a.png``) refuse the whole batch with one error line and no output.
3. **Then** the images are processed one by one. A file that fails later (e.g. its pixel data is truncated although
   its header was fine) is reported on one line on stderr and the batch **continues**; at the end a summary
   ``N written, M skipped, K failed`` is printed and the command exits with status 1 if anything failed.
4. Every output is written atomically (a temporary file renamed into place), so an output file that exists is
   complete; ``--resume`` skips inputs whose output already exists and does the rest (a batch killed at any moment
   is finished by rerunning it with ``--resume``).
5. Under ``torchrun --nproc_per_node=N`` (one or several nodes) every process reads ``RANK`` and ``WORLD_SIZE`` and
   takes the strided shard ``inputs[RANK::WORLD_SIZE]`` of the sorted input list: the shards are disjoint, their
   union is the whole list, and no process group (no communication) is needed. Each process validates the whole
   list in step 2, so all ranks accept or refuse the same batch.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import torch

from invrestore.errors import ConfigError, ImageReadError, ImageWriteError, InvRestoreError
from invrestore.fast import FastOptions
from invrestore.io import IMAGE_EXTENSIONS

__all__ = [
    "IMAGE_EXTS",
    "BatchError",
    "BatchReport",
    "DistInfo",
    "Inference",
    "Job",
    "OutputDir",
    "Plan",
    "dist_info",
    "expand_inputs",
    "output_paths",
    "pending",
    "pixel_limit",
    "plan_batch",
    "progress",
    "progress_enabled",
    "read_headers",
    "shard",
]

T = TypeVar("T")

IMAGE_EXTS: tuple[str, ...] = IMAGE_EXTENSIONS
_GLOB_CHARS = frozenset("*?[")


class BatchError(InvRestoreError):
    """Some inputs of a batch failed (each was reported when it failed)."""


# -- inputs ------------------------------------------------------------------------------------------------------
def _has_ext(path: Path, exts: Sequence[str]) -> bool:
    return path.suffix.lower() in exts


def _folder_files(folder: Path, exts: Sequence[str], recursive: bool) -> list[Path]:
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.is_file() and _has_ext(p, exts) and not p.name.startswith("."))


def expand_inputs(args: Sequence[str], *, exts: Sequence[str] = IMAGE_EXTS, recursive: bool = False) -> list[Path]:
    """The files named by ``args``: files as given, folders' files with an extension in ``exts`` (sorted; into
    sub-folders with ``recursive``), glob patterns (``*``, ``?``, ``[...]``, ``**`` for any depth) sorted.

    Duplicates (the same file reached twice) are kept once, at their first position. Hidden files (``.name``, e.g.
    the temporary files of an interrupted write) are never picked from folders or patterns.

    Raises:
        ConfigError: no argument, or a folder/pattern that matches no file with one of ``exts``.
        ImageReadError: a named file or folder that does not exist.
    """
    exts = tuple(e.lower() for e in exts)
    if not args:
        raise ConfigError("no input given: pass image files, folders or glob patterns")
    out: list[Path] = []
    seen: set[Path] = set()
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = _folder_files(p, exts, recursive)
            if not found:
                how = " (or its sub-folders)" if recursive else " (use --recursive for sub-folders)"
                raise ConfigError(f"folder '{arg}'{how} has no {'/'.join(exts)} files")
        elif p.is_file():
            found = [p]
        elif _GLOB_CHARS & set(arg):
            found = sorted(
                Path(m)
                for m in glob.glob(arg, recursive=True)
                if Path(m).is_file() and _has_ext(Path(m), exts) and not Path(m).name.startswith(".")
            )
            if not found:
                raise ConfigError(f"pattern '{arg}' matches no {'/'.join(exts)} file")
        else:
            raise ImageReadError(p, "no such file or folder")
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def output_paths(
    inputs: Sequence[Path], out_dir: str | Path, suffix: str = ".png", *, name: Callable[[Path], str] | None = None
) -> list[Path]:
    """``out_dir/<stem><suffix>`` for each input (``name(path)`` replaces the stem when given).

    Raises:
        ConfigError: two inputs would write the same output (``a.png``, ``a.jpg`` → ``a.png``), naming both; this
            is checked for the whole batch before anything is written.
    """
    out_dir = Path(out_dir)
    taken: dict[str, Path] = {}
    result: list[Path] = []
    clashes: list[str] = []
    for p in inputs:
        dst = out_dir / f"{name(p) if name else p.stem}{suffix}"
        key = os.path.normcase(dst.name)
        if key in taken:
            clashes.append(f"{taken[key]} and {p} would both be written as {dst}")
        else:
            taken[key] = p
        result.append(dst)
    if clashes:
        more = f" (and {len(clashes) - 1} more clash(es))" if len(clashes) > 1 else ""
        raise ConfigError(f"{clashes[0]}{more}: rename one of them or process them in separate runs")
    return result


@contextlib.contextmanager
def pixel_limit(n: int | None) -> Iterator[None]:
    """Within the block, the image reader's pixel limit is ``n`` (``--max-pixels``; ``None``: unchanged); the
    previous limit is restored on exit."""
    import invrestore.io as iio

    setter = getattr(iio, "set_max_pixels", None)
    if n is None or setter is None:
        yield
        return
    previous = getattr(iio, "_max_pixels_override", None)
    setter(int(n))
    try:
        yield
    finally:
        setter(previous)


def read_headers(paths: Sequence[Path], *, max_pixels: int | None = None) -> list[tuple[int, int]]:
    """``(W, H)`` of every image from its header, before anything is processed.

    Raises:
        ImageReadError: a missing, empty or unreadable file, or (``max_pixels``) an image with more pixels.
    """
    import invrestore.io as iio

    probe = getattr(iio, "probe_image", None)
    with pixel_limit(max_pixels):
        sizes = [_header(p, probe, max_pixels) for p in paths]
    return sizes


def _header(p: Path, probe: Callable[[Path], tuple[int, ...]] | None, max_pixels: int | None) -> tuple[int, int]:
    import invrestore.io as iio

    if not p.is_file():
        raise ImageReadError(p, "no such file")
    if probe is not None:
        w, h = probe(p)[:2]
    else:
        h, w = iio.image_size(p)
    if max_pixels is not None and w * h > max_pixels:
        raise ImageReadError(
            p, f"{w}×{h} = {w * h} pixels is above the limit of {max_pixels} (raise it with --max-pixels)"
        )
    return (int(w), int(h))


# -- torchrun ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DistInfo:
    """This process's place under ``torchrun``: global ``rank`` of ``world`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def prefix(self) -> str:
        """``"[rank 1/4] "`` under torchrun, else ``""``."""
        return f"[rank {self.rank}/{self.world}] " if self.distributed else ""


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name}={text!r} is not an integer (set by torchrun)") from None


def dist_info() -> DistInfo:
    """``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` as set by ``torchrun`` (0, 1, 0 when unset). No process group is
    created: sharding a file list needs none.

    Raises:
        ConfigError: inconsistent values (``RANK`` outside ``[0, WORLD_SIZE)``).
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ConfigError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local}")
    return DistInfo(rank, world, local)


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """The strided shard ``items[rank::world]``: disjoint across ranks, union = ``items``, deterministic."""
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"rank {rank} is not in [0, {world})")
    return list(items[rank::world])


# -- resume, output folder ---------------------------------------------------------------------------------------
def pending(jobs: Sequence[T], dsts: Sequence[Path], resume: bool) -> tuple[list[T], list[T]]:
    """``(to_do, skipped)``: with ``resume``, a job whose output exists (a non-empty regular file, complete because
    every output is written atomically) is skipped."""
    if not resume:
        return list(jobs), []
    todo: list[T] = []
    skipped: list[T] = []
    for job, dst in zip(jobs, dsts, strict=True):
        (skipped if dst.is_file() and dst.stat().st_size > 0 else todo).append(job)
    return todo, skipped


class OutputDir:
    """The output folder: created on first use; removed again at :meth:`close` if this run created it and left it
    empty (a refused or failed run leaves no empty folder behind)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._created = False
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"output '{self.path}' exists and is not a folder")
        for parent in self.path.parents:
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"cannot create output folder '{self.path}': '{parent}' is a file")

    def ensure(self) -> Path:
        if not self.path.is_dir():
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ImageWriteError(f"cannot create output folder '{self.path}': {e.strerror or e}") from e
            self._created = True
        return self.path

    def close(self) -> None:
        if self._created:
            with contextlib.suppress(OSError):  # only succeeds when empty (another rank may have written into it)
                self.path.rmdir()


# -- progress and report -----------------------------------------------------------------------------------------
def progress_enabled(flag: bool | None) -> bool:
    """``flag`` when given (``--progress`` / ``--no-progress``), else whether stderr is a terminal."""
    if flag is not None:
        return flag
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(
    items: Iterable[T], desc: str, *, enabled: bool, total: int | None = None, unit: str = "img"
) -> Iterator[T]:
    """A tqdm bar over ``items`` on stderr when ``enabled`` (rank-prefixed under torchrun)."""
    if not enabled:
        yield from items
        return
    from tqdm import tqdm

    prefix = dist_info().prefix
    yield from tqdm(items, desc=f"{prefix}{desc}", unit=unit, total=total, file=sys.stderr, dynamic_ncols=True)


def _say(line: str, *, err: bool = False, bar: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    if bar:
        from tqdm import tqdm

        tqdm.write(line, file=stream)
    else:
        print(line, file=stream, flush=True)


@dataclass
class BatchReport:
    """What a batch did; :meth:`run` processes jobs, :meth:`finish` prints the summary and fails if any failed."""

    desc: str
    total: int = 0
    written: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    dist: DistInfo = field(default_factory=DistInfo)

    def run(
        self,
        jobs: Sequence[T],
        work: Callable[[T], str | None],
        *,
        show_progress: bool,
        label: Callable[[T], str] = str,
    ) -> None:
        """Call ``work(job)`` for each job; a job raising an :class:`InvRestoreError` is reported and counted as
        failed and the batch goes on (a single-job batch re-raises it instead). ``work`` returns a line to print."""
        bar = show_progress and len(jobs) > 1
        for job in progress(jobs, self.desc, enabled=bar, total=len(jobs)):
            try:
                line = work(job)
            except InvRestoreError as e:
                if self.total <= 1:
                    raise
                self.failed.append((label(job), str(e)))
                _say(f"invrestore: error: {self.dist.prefix}{e}", err=True, bar=bar)
                continue
            self.written += 1
            if line:
                _say(f"{self.dist.prefix}{line}", bar=bar)

    def summary(self) -> str:
        text = f"{self.desc}: {self.written} written, {self.skipped} skipped, {len(self.failed)} failed"
        if self.dist.distributed:
            text += f" (this rank's shard of {self.total} inputs)"
        return f"{self.dist.prefix}{text}"

    def finish(self) -> None:
        """Print the summary (for batches of more than one input or with skips) and raise :class:`BatchError` if any
        input failed."""
        if self.total > 1 or self.skipped or self.failed:
            _say(self.summary())
        if self.failed:
            first = self.failed[0][0]
            raise BatchError(
                f"{len(self.failed)} of {self.written + len(self.failed)} inputs failed (first: {first}); the others "
                "were written — fix or remove the failed files and rerun with --resume"
            )


# -- inference settings shared by the file commands -------------------------------------------------------------
@dataclass(frozen=True)
class Inference:
    """How a file command runs its model: device, tiling, memory budget, fast path, progress.

    ``tile``: ``"auto"`` (tile only when :func:`invrestore.tiling.estimate_memory` of the whole image exceeds
    the budget), ``None`` (never tile) or a tile side in pixels of the model's input (rounded up to the model's
    alignment). ``overlap``: ``None`` for the measured default of the model kind, else pixels of the model's input.
    ``max_memory``: bytes the model's activations may use (``None``: :func:`invrestore.tiling.default_budget`,
    half the available memory, at most 768 MiB on the CPU).
    """

    device: torch.device
    tile: int | Literal["auto"] | None = "auto"
    overlap: int | None = None
    max_memory: int | None = None
    fast: FastOptions = field(default_factory=FastOptions)
    show_progress: bool = False

    @staticmethod
    def parse_tile(text: str) -> int | Literal["auto"] | None:
        t = text.strip().lower()
        if t == "auto":
            return "auto"
        if not t.isdigit():
            raise ConfigError(f"--tile must be 'auto', 0 (never tile) or a positive number of pixels, not '{text}'")
        n = int(t)
        if n != 0 and n < 16:
            raise ConfigError(f"--tile {n} is too small: use at least 16 pixels (or 0 to never tile)")
        return n or None

    @staticmethod
    def parse_overlap(text: str) -> int | None:
        t = text.strip().lower()
        if t == "auto":
            return None
        if not t.isdigit():
            raise ConfigError(f"--tile-overlap must be 'auto' or a number of pixels >= 0, not '{text}'")
        return int(t)

    @classmethod
    def from_options(
        cls,
        *,
        device: str,
        tile: str,
        tile_overlap: str,
        max_memory: str,
        compile: bool,
        precision: str,
        progress: bool | None,
    ) -> Inference:
        """Parse and check the command-line values (``--device``, ``--tile``, ...)."""
        from dataclasses import replace

        from invrestore.devices import resolve_device
        from invrestore.tiling import parse_memory

        dev = resolve_device(device)
        t, ov = cls.parse_tile(tile), cls.parse_overlap(tile_overlap)
        budget = None if max_memory.strip().lower() == "auto" else parse_memory(max_memory)
        opts = FastOptions.preset("fast", dev) if compile else FastOptions()
        if precision != "float32":
            opts = replace(opts, dtype=precision)  # type: ignore[arg-type]
        return cls(dev, t, ov, budget, opts, progress_enabled(progress))

    @property
    def budget(self) -> int:
        """The activation budget in bytes (``max_memory`` or the default one)."""
        from invrestore.tiling import default_budget

        return int(default_budget(self.device)) if self.max_memory is None else self.max_memory

    def tile_for(self, kind: str, h: int, w: int, align: int = 1) -> int | None:
        """The tile side for an ``h × w`` input of model ``kind`` (``None``: whole image), a multiple of ``align``."""
        from invrestore.tiling import auto_tile

        if self.tile is None:
            return None
        if self.tile == "auto":
            auto: int | None = auto_tile(
                kind, h, w, max_memory=self.budget, align=align, device=self.device, overlap=self.overlap
            )
            return auto
        return -(-self.tile // align) * align

    def fits(self, kind: str, pixels: int) -> bool:
        """Whether a whole-image run of ``kind`` over ``pixels`` input pixels fits the budget."""
        from invrestore.tiling import estimate_memory

        return int(estimate_memory(kind, pixels)) <= self.budget

    def check_memory(self, what: str, need: int) -> None:
        """Refuse an untileable job whose estimated ``need`` (bytes) exceeds ``max_memory`` (default: half the free
        memory, without the 1 GiB CPU cap of the tiling budget), with the numbers."""
        from invrestore.tiling import available_memory

        budget = self.max_memory if self.max_memory is not None else int(available_memory(self.device)) // 2
        if need > budget:
            raise ConfigError(
                f"{what} needs about {need / 2**30:.1f} GiB of memory but the budget is {budget / 2**30:.1f} GiB "
                "(--max-memory; default half the free memory) and this model codes the whole image at once (no "
                "tiling): raise --max-memory if the memory is there, or use a smaller image"
            )


# -- a whole batch plan ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One input file, its output file and its ``(W, H)`` size from the header (``(0, 0)`` for non-images)."""

    src: Path
    dst: Path
    size: tuple[int, int] = (0, 0)

    def __str__(self) -> str:
        return str(self.src)


@dataclass
class Plan:
    """A validated batch: every input of every rank (``all_jobs``), this rank's jobs to do and its skipped ones."""

    all_jobs: list[Job]
    jobs: list[Job]
    skipped: list[Job]
    dist: DistInfo
    out_dir: OutputDir
    report: BatchReport
    max_pixels: int | None = None


def plan_batch(
    args: Sequence[str],
    out_dir: str | Path,
    *,
    desc: str,
    exts: Sequence[str] = IMAGE_EXTS,
    suffix: str = ".png",
    resume: bool = False,
    recursive: bool = False,
    images: bool = True,
    max_pixels: int | None = None,
) -> Plan:
    """Steps 1 and 2 of the module's batch semantics: expand ``args``, name the outputs (refusing clashes), read
    every header (``images``; else only check the files exist), shard for ``torchrun`` and apply ``--resume``."""
    inputs = expand_inputs(args, exts=exts, recursive=recursive)
    dsts = output_paths(inputs, out_dir, suffix)
    if images:
        sizes = read_headers(inputs, max_pixels=max_pixels)
    else:
        for p in inputs:
            if not p.is_file():
                raise ImageReadError(p, "no such file")
        sizes = [(0, 0)] * len(inputs)
    out = OutputDir(out_dir)
    all_jobs = [Job(s, d, z) for s, d, z in zip(inputs, dsts, sizes, strict=True)]
    dist = dist_info()
    mine = shard(all_jobs, dist.rank, dist.world)
    todo, skipped = pending(mine, [j.dst for j in mine], resume)
    report = BatchReport(desc, total=len(all_jobs), skipped=len(skipped), dist=dist)
    return Plan(all_jobs, todo, skipped, dist, out, report, max_pixels)
