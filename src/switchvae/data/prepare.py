"""The prepare pipeline: any source of shapes -> a prepared dataset, in parallel, resumable.

A *source* lists items (id, label, split, a small picklable payload) and builds each one's
(voxels, views) pair. This module owns everything else: the temporary directory, memory-
mapped output arrays, worker processes, progress, resume after a kill, skipped items and
the final atomic rename. Work is done in chunks; a chunk is written into the memory maps,
flushed, and only then marked done by a small file, so a killed run redoes at most the
chunks that were in flight.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from switchvae import __version__
from switchvae.data import prepared as fmt
from switchvae.data.npy_stream import npy_layout, select_rows
from switchvae.data.output_dir import check_output_location, swap_into_place, write_json_atomic
from switchvae.data.shard import plan_fingerprint, select_shard
from switchvae.data.sources.base import ItemSpec, PrepareSettings, Source
from switchvae.errors import DataError

__all__ = ["ItemSpec", "PrepareResult", "PrepareSettings", "Source", "prepare_dataset"]

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"
PLAN_FILE = "plan.json"
DONE_DIR = "done"
SKIPPED_FILE = "skipped.jsonl"
DEFAULT_CHUNK_SIZE = 16


@dataclass
class PrepareResult:
    """What a prepare run produced."""

    path: Path
    split_sizes: dict[str, int]
    skipped: int
    reused: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


def _chunks(items: list[ItemSpec], size: int) -> Iterator[tuple[str, int, list[ItemSpec]]]:
    """Yield (split, start index within split, items) chunks."""
    for split in fmt.SPLITS:
        in_split = [i for i in items if i.split == split]
        for start in range(0, len(in_split), size):
            yield split, start, in_split[start : start + size]


def _allocate(work: Path, items: list[ItemSpec], settings: PrepareSettings, channels: int) -> None:
    """Create the output memory maps of every split in the work directory."""
    side, views = settings.image_size, settings.num_views
    for split in fmt.SPLITS:
        n = sum(1 for i in items if i.split == split)
        split_dir = work / split
        split_dir.mkdir(parents=True, exist_ok=True)
        vox = np.lib.format.open_memmap(
            split_dir / fmt.VOXELS_FILE, "w+", np.uint8, (n, settings.resolution**3 // 8)
        )
        img = np.lib.format.open_memmap(
            split_dir / fmt.VIEWS_FILE, "w+", np.uint8, (n, views, side, side, channels)
        )
        del vox, img


def _process_chunk(
    source: Source, settings: PrepareSettings, work: Path, split: str, start: int, chunk: list
) -> int:
    """Build one chunk of items into the memory maps, then mark it done. Runs in a worker."""
    split_dir = work / split
    vox = np.load(split_dir / fmt.VOXELS_FILE, mmap_mode="r+")
    img = np.load(split_dir / fmt.VIEWS_FILE, mmap_mode="r+")
    skipped = []
    for offset, item in enumerate(chunk):
        try:
            grid, views = source.build(item, settings)
            _check_pair(item, grid, views, img.shape[1:])
        except DataError as err:
            skipped.append({"split": split, "item_id": item.item_id, "reason": str(err)})
            continue
        vox[start + offset] = fmt.pack_voxels(grid)
        img[start + offset] = views
    vox.flush()
    img.flush()
    done = {"count": len(chunk), "skipped": skipped}
    write_json_atomic(work / DONE_DIR / f"{split}-{start:08d}.json", done)
    return len(chunk)


def _check_pair(item: ItemSpec, grid: np.ndarray, views: np.ndarray, view_shape: tuple) -> None:
    if tuple(views.shape) != tuple(view_shape) or views.dtype != np.uint8:
        raise DataError(
            f"{item.item_id}: views have shape {views.shape} {views.dtype}, "
            f"expected {view_shape} uint8"
        )
    if not np.asarray(grid).any():
        raise DataError(f"{item.item_id}: the voxel grid is empty")


def _worker_init() -> None:
    # One thread per worker process: parallelism comes from the processes.
    import torch

    torch.set_num_threads(1)


def _run_chunks(
    jobs: list[tuple[str, int, list[ItemSpec]]],
    run_one: Callable[..., int],
    workers: int,
    progress: tqdm,
) -> None:
    if workers <= 1:
        for split, start, chunk in jobs:
            progress.update(run_one(split, start, chunk))
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        pending: set[Future] = set()
        queue = list(jobs)
        while queue or pending:
            while queue and len(pending) < 2 * workers:
                pending.add(pool.submit(run_one, *queue.pop(0)))
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                progress.update(future.result())


def _compact(work: Path, split: str, skipped_ids: set[str], ids: list[str]) -> list[str]:
    """Remove skipped items from a split's arrays (streamed copy); return the kept ids."""
    keep = [k for k, item_id in enumerate(ids) if item_id not in skipped_ids]
    for name in (fmt.VOXELS_FILE, fmt.VIEWS_FILE):
        path = work / split / name
        if len(keep) < len(ids) and npy_layout(path).shape[0] == len(ids):  # not done before
            select_rows(path, path.with_name(name + ".compact"), keep)
            os.replace(path.with_name(name + ".compact"), path)
    return [ids[k] for k in keep]


def _finalize(
    work: Path, source: Source, settings: PrepareSettings, items: list[ItemSpec], channels: int
) -> tuple[dict[str, Any], list[dict]]:
    """Compact skipped items away, write labels and the manifest; return it and the skips."""
    skipped: list[dict] = []
    for marker in sorted((work / DONE_DIR).glob("*.json")):
        skipped.extend(json.loads(marker.read_text())["skipped"])
    skipped_keys = {(s["split"], s["item_id"]) for s in skipped}
    splits: dict[str, Any] = {}
    for split in fmt.SPLITS:
        in_split = [i for i in items if i.split == split]
        dropped = {i.item_id for i in in_split if (split, i.item_id) in skipped_keys}
        kept_ids = _compact(work, split, dropped, [i.item_id for i in in_split])
        labels = np.array([i.label for i in in_split if i.item_id not in dropped], np.int64)
        np.save(work / split / fmt.LABELS_FILE, labels)
        splits[split] = {"size": len(kept_ids), "ids": kept_ids}
    manifest = {
        "format": fmt.FORMAT_NAME,
        "format_version": fmt.FORMAT_VERSION,
        "package_version": __version__,
        "source": source.describe(),
        "resolution": settings.resolution,
        "num_views": settings.num_views,
        "image_size": settings.image_size,
        "channels": channels,
        "camera": source.describe().get("camera")
        or {"views": settings.views, "elevation_deg": settings.elevation_deg, "up_axis": "y"},
        "settings": asdict(settings),
        "classes": source.classes(),
        "splits": splits,
        "skipped": len(skipped),
    }
    return manifest, skipped


def prepare_dataset(
    source: Source,
    out: str | Path,
    settings: PrepareSettings,
    workers: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overwrite: bool = False,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
) -> PrepareResult:
    """Prepare ``source`` into the dataset directory ``out`` (see module docstring).

    Args:
        source: the items and how to build them.
        out: final directory; the work happens in ``<out>.partial`` and is renamed at the end.
        settings: grid and camera settings.
        workers: worker processes (<= 1 runs in this process).
        chunk_size: items per unit of work (and per resume checkpoint).
        overwrite: replace an existing dataset made with other settings (only once the new
            one is complete).
        progress: show a progress bar on stderr.
        shard: ``(i, n)`` prepares only the i-th of n slices of the plan, as a dataset that
            ``switchvae merge`` combines with the others (see ``shard.py``).
    Returns:
        A :class:`PrepareResult`; ``reused`` is True when ``out`` was already complete.
    Raises:
        DataError: bad output location, or no usable item at all.
    """
    out = Path(out)
    items = source.items()
    if not items:
        raise DataError(f"source {source.name!r} lists no items to prepare")
    fingerprint = plan_fingerprint(source, settings, items)
    items, fingerprint, shard_entry = select_shard(items, shard, fingerprint)
    if check_output_location(out, fingerprint, overwrite):
        manifest = fmt.read_manifest(out)
        sizes, skipped_count = fmt.split_summary(manifest), manifest.get("skipped", 0)
        return PrepareResult(out, sizes, skipped_count, True, manifest.get("stats", {}))

    work = out.with_name(out.name + PARTIAL_SUFFIX)
    channels = source.channels(settings)
    _start_work(work, fingerprint, items, settings, channels)
    done = {p.stem for p in (work / DONE_DIR).glob("*.json")}
    jobs = [job for job in _chunks(items, chunk_size) if f"{job[0]}-{job[1]:08d}" not in done]
    already = len(items) - sum(len(job[2]) for job in jobs)
    if already:
        log.info("resuming %s: %d of %d shapes already done", work, already, len(items))
    run_one = _ChunkRunner(source, settings, work)
    with tqdm(
        total=len(items), initial=already, desc=f"prepare {source.name}",
        unit="shape", disable=not progress, dynamic_ncols=True,
    ) as bar:  # fmt: skip
        _run_chunks(jobs, run_one, workers, bar)

    manifest, skipped = _finalize(work, source, settings, items, channels)
    if shard_entry is None and not any(s["size"] for s in manifest["splits"].values()):
        raise DataError(f"no usable item in source {source.name!r}; see {work / SKIPPED_FILE}")
    manifest["fingerprint"] = fingerprint
    if shard_entry is not None:
        manifest["shard"] = shard_entry
    manifest["stats"] = stats = source_stats(source, work, manifest) if not shard_entry else {}
    _publish(work, out, manifest, skipped)
    return PrepareResult(out, fmt.split_summary(manifest), len(skipped), False, stats)


def _start_work(
    work: Path, fingerprint: str, items: list[ItemSpec], settings: PrepareSettings, channels: int
) -> None:
    """Create the work directory with empty arrays, or keep one started with the same plan."""
    plan_path = work / PLAN_FILE
    if work.exists() and not (
        plan_path.is_file() and json.loads(plan_path.read_text()).get("fingerprint") == fingerprint
    ):
        log.info("discarding %s: it was started with other settings", work)
        shutil.rmtree(work)
    if not work.exists():
        (work / DONE_DIR).mkdir(parents=True)
        _allocate(work, items, settings, channels)
        write_json_atomic(plan_path, {"fingerprint": fingerprint})


def _publish(work: Path, out: Path, manifest: dict[str, Any], skipped: list[dict]) -> None:
    """Write the skipped list and the manifest, drop the bookkeeping, rename into place."""
    with open(work / SKIPPED_FILE, "w") as handle:
        handle.writelines(json.dumps(s) + "\n" for s in skipped)
    write_json_atomic(work / fmt.MANIFEST, manifest)
    (work / PLAN_FILE).unlink(missing_ok=True)
    shutil.rmtree(work / DONE_DIR, ignore_errors=True)
    swap_into_place(work, out)


@dataclass(frozen=True)
class _ChunkRunner:
    """Picklable callable binding the source and settings for the worker processes."""

    source: Any
    settings: PrepareSettings
    work: Path

    def __call__(self, split: str, start: int, chunk: list[ItemSpec]) -> int:
        return _process_chunk(self.source, self.settings, self.work, split, start, chunk)


def source_stats(source: Source, work: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Statistics a source wants recorded once the arrays are complete (may be empty)."""
    compute = getattr(source, "stats", None)
    return compute(work, manifest) if compute is not None else {}
