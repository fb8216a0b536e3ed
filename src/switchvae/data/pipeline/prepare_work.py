"""The work of a prepare run: chunks of items built into the memory maps, in parallel.

A chunk's items are built by the source, written into the output arrays (already
allocated by :mod:`.allocate`), flushed, and only then marked done by a small JSON file in
``done/`` listing the items it skipped; a killed run redoes at most the chunks in flight.
An item whose file cannot be read or decoded (:data:`ITEM_ERRORS`) is skipped with its
reason instead of stopping the run. A worker process that dies (out of memory, killed)
ends the run with a message; the finished chunks are kept for the next run. Once every
chunk is done, :func:`finalize` compacts the skipped items away and builds the manifest.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from switchvae import __version__
from switchvae.data.sources.base import ItemSpec, PrepareSettings, Source
from switchvae.data.store import prepared as fmt
from switchvae.data.store.npy_stream import npy_layout, select_rows
from switchvae.data.store.output_dir import write_json_atomic
from switchvae.errors import DataError

DONE_DIR = "done"
# What building one item may raise when its file is bad: the item is skipped, the run goes on.
ITEM_ERRORS = (DataError, ValueError, ArithmeticError, LookupError, MemoryError, OSError, EOFError)


def chunks(items: list[ItemSpec], size: int) -> Iterator[tuple[str, int, list[ItemSpec]]]:
    """Yield (split, start index within split, items) chunks."""
    for split in fmt.SPLITS:
        in_split = [i for i in items if i.split == split]
        for start in range(0, len(in_split), size):
            yield split, start, in_split[start : start + size]


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
        except ITEM_ERRORS as err:
            reason = str(err) if isinstance(err, DataError) else f"{type(err).__name__}: {err}"
            skipped.append({"split": split, "item_id": item.item_id, "reason": reason})
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


def run_chunks(
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
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            pending: set[Future] = set()
            queue = list(jobs)
            while queue or pending:
                while queue and len(pending) < 2 * workers:
                    pending.add(pool.submit(run_one, *queue.pop(0)))
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    progress.update(future.result())
    except BrokenProcessPool:
        raise DataError(
            "a prepare worker process died (out of memory, or killed); run the same "
            "command again to resume, perhaps with fewer --workers"
        ) from None


def _compact(work: Path, split: str, skipped_ids: set[str], ids: list[str]) -> list[str]:
    """Remove skipped items from a split's arrays (streamed copy); return the kept ids."""
    keep = [k for k, item_id in enumerate(ids) if item_id not in skipped_ids]
    for name in (fmt.VOXELS_FILE, fmt.VIEWS_FILE):
        path = work / split / name
        if len(keep) < len(ids) and npy_layout(path).shape[0] == len(ids):  # not done before
            select_rows(path, path.with_name(name + ".compact"), keep)
            os.replace(path.with_name(name + ".compact"), path)
    return [ids[k] for k in keep]


def finalize(
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


@dataclass(frozen=True)
class ChunkRunner:
    """Picklable callable binding the source and settings for the worker processes."""

    source: Any
    settings: PrepareSettings
    work: Path

    def __call__(self, split: str, start: int, chunk: list[ItemSpec]) -> int:
        return _process_chunk(self.source, self.settings, self.work, split, start, chunk)
