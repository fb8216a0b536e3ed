"""Sharding a prepare run across jobs, and merging the shards back into one dataset.

Slicing — contiguous ranges per split: shard ``i`` of ``n`` (0 <= i < n, as
``$SLURM_ARRAY_TASK_ID`` with ``--array=0-(n-1)``) takes, in every split of N planned
items, the items ``[N*i//n, N*(i+1)//n)`` in plan order. Chosen over "every n-th chunk"
because the merge is then a plain concatenation per split (sequential streamed copies,
no interleaving), and shard sizes differ by at most one item per split. The price: items
are listed class by class, so shards hold different classes and their run times differ
when some classes have heavier meshes.

Each shard is a normal prepared dataset whose manifest also holds
``shard: {index, count, plan_fingerprint, plan_sizes, ranges}``; its own fingerprint is
derived from the full plan's and the shard index, so a shard is resumable like any run.
Every job must see the same plan: same source (its description includes e.g. the data
root's path, so use one shared path) and same settings, or merge refuses the shards.
:func:`merge_shards` checks that the shards are complete, come from one plan and cover
every planned item exactly once (kept or skipped), then streams their arrays into one
dataset in the original order, written under a temporary name and renamed at the end.
The result carries the full plan's fingerprint: it is what an unsharded run would have
written (except source statistics such as the synthetic set's 1-NN accuracy, which need
the source and are left empty).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from switchvae.data.sources.base import ItemSpec, PrepareSettings, Source
from switchvae.data.store import prepared as fmt
from switchvae.data.store.manifest import Manifest
from switchvae.data.store.npy_stream import copy_row_runs, npy_layout, write_npy_header
from switchvae.data.store.output_dir import (
    PARTIAL_SUFFIX,
    SKIPPED_FILE,
    PrepareResult,
    check_out_path,
    check_output_location,
    clear_work_dir,
    swap_into_place,
    work_dir,
    write_json_atomic,
)
from switchvae.errors import DataError

__all__ = [
    "merge_shards",
    "parse_shard",
    "plan_fingerprint",
    "select_shard",
    "shard_ranges",
]

SHARD_KEY = "shard"
MERGING_SUFFIX = ".merging"
# Manifest entries that must agree between shards (the plan fingerprint covers most).
SAME_IN_ALL_SHARDS = ("format_version", "source", "settings", "channels", "classes")
_SHARD_TEXT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def plan_fingerprint(source: Source, settings: PrepareSettings, items: list[ItemSpec]) -> str:
    """Identity of a prepare plan: the source, the settings and every item, in order.

    A re-run with the same fingerprint resumes or reuses; shards of one run share it.
    """
    ids = "\n".join(f"{i.split}/{i.item_id}/{i.label}" for i in items)
    text = json.dumps([source.describe(), asdict(settings)], sort_keys=True) + ids
    return hashlib.sha256(text.encode()).hexdigest()


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"I/N"`` (0 <= I < N) into ``(I, N)``; DataError otherwise."""
    match = _SHARD_TEXT.match(text)
    index, count = (int(match.group(1)), int(match.group(2))) if match else (-1, 0)
    if not 0 <= index < count:
        raise DataError(f"--shard must be I/N with 0 <= I < N (e.g. 0/8 ... 7/8), got {text!r}")
    return index, count


def shard_ranges(plan_sizes: dict[str, int], index: int, count: int) -> dict[str, list[int]]:
    """``[start, stop)`` of shard ``index`` of ``count`` in each split of the plan."""
    return {s: [n * index // count, n * (index + 1) // count] for s, n in plan_sizes.items()}


def select_shard(
    items: list[ItemSpec], shard: tuple[int, int] | None, full_fingerprint: str
) -> tuple[list[ItemSpec], str, dict[str, Any] | None]:
    """The items, fingerprint and manifest entry of one shard of a plan.

    Args:
        items: the full plan, in output order within each split.
        shard: ``(index, count)``, or None for the whole plan (returned unchanged).
        full_fingerprint: fingerprint of the full plan (:func:`plan_fingerprint`).
    Returns:
        (the shard's items, the shard dataset's fingerprint, the ``shard`` manifest entry).
    """
    if shard is None:
        return items, full_fingerprint, None
    index, count = parse_shard(f"{shard[0]}/{shard[1]}")
    by_split = {s: [i for i in items if i.split == s] for s in fmt.SPLITS}
    ranges = shard_ranges({s: len(v) for s, v in by_split.items()}, index, count)
    chosen = [item for s, (lo, hi) in ranges.items() for item in by_split[s][lo:hi]]
    entry = {
        "index": index,
        "count": count,
        "plan_fingerprint": full_fingerprint,
        "plan_sizes": {s: len(v) for s, v in by_split.items()},
        "ranges": ranges,
    }
    own = hashlib.sha256(f"{full_fingerprint} shard {index}/{count}".encode()).hexdigest()
    return chosen, own, entry


@dataclass(frozen=True)
class _Shard:
    path: Path
    manifest: Manifest
    skipped: list[dict[str, Any]]

    @property
    def entry(self) -> dict[str, Any]:
        return self.manifest[SHARD_KEY]


def _read_shard(path: Path, skipped_file: str, partial_suffix: str) -> _Shard:
    partial = path.with_name(path.name + partial_suffix)
    if not (path / fmt.MANIFEST).is_file() and partial.exists():
        raise DataError(f"shard {path} is not finished ({partial} exists): re-run its job")
    manifest = fmt.read_manifest(path)
    if SHARD_KEY not in manifest:
        raise DataError(f"{path} is not a shard (it was prepared without --shard)")
    lines = (
        (path / skipped_file).read_text().splitlines() if (path / skipped_file).is_file() else []
    )
    return _Shard(path, manifest, [json.loads(line) for line in lines if line.strip()])


def _check_same_plan(shards: list[_Shard]) -> None:
    first = shards[0]
    for shard in shards[1:]:
        for key in ("plan_fingerprint", "count"):
            if shard.entry[key] != first.entry[key]:
                raise DataError(
                    f"{shard.path} comes from another prepare plan than {first.path} "
                    f"({key} differs); merge only shards of one run"
                )
        for key in SAME_IN_ALL_SHARDS:
            if shard.manifest.get(key) != first.manifest.get(key):
                raise DataError(f"{shard.path} and {first.path} differ in {key!r}")


def _check_coverage(shards: list[_Shard]) -> None:
    """Every index 0..n-1 once, and each shard holds exactly its planned ranges."""
    count = shards[0].entry["count"]
    seen: dict[int, Path] = {}
    for shard in shards:
        index = shard.entry["index"]
        if index in seen:
            raise DataError(f"shard {index}/{count} given twice: {seen[index]} and {shard.path}")
        seen[index] = shard.path
    missing = sorted(set(range(count)) - set(seen))
    if missing:
        listed = ", ".join(f"{m}/{count}" for m in missing)
        raise DataError(f"missing shard(s) {listed}: prepare them, then merge again")
    for shard in shards:
        expected = shard_ranges(shard.entry["plan_sizes"], shard.entry["index"], count)
        for split, (lo, hi) in expected.items():
            kept = shard.manifest.split_size(split)
            dropped = sum(1 for s in shard.skipped if s["split"] == split)
            if shard.entry["ranges"].get(split) != [lo, hi] or kept + dropped != hi - lo:
                raise DataError(
                    f"{shard.path}: split {split!r} holds {kept} kept + {dropped} skipped "
                    f"items, but the plan gives this shard items {lo}..{hi - 1}"
                )


def _merge_split(work: Path, split: str, shards: list[_Shard], bar: tqdm) -> list[str]:
    """Concatenate one split of every shard (in index order) into ``work``; return the ids."""
    sizes = [s.manifest.split_size(split) for s in shards]
    (work / split).mkdir()
    for name in (fmt.VOXELS_FILE, fmt.VIEWS_FILE):
        first = npy_layout(shards[0].path / split / name)
        with open(work / split / name, "wb") as out:
            write_npy_header(out, (sum(sizes), *first.shape[1:]), first.dtype)
            for shard, size in zip(shards, sizes, strict=True):
                layout = npy_layout(shard.path / split / name)
                if layout.shape != (size, *first.shape[1:]) or layout.dtype != first.dtype:
                    raise DataError(
                        f"{shard.path / split / name}: array {layout.shape} {layout.dtype}, "
                        f"expected {(size, *first.shape[1:])} {first.dtype}"
                    )
                copy_row_runs(shard.path / split / name, [(0, size)], out, bar.update)
    labels = [np.load(s.path / split / fmt.LABELS_FILE) for s in shards]
    np.save(work / split / fmt.LABELS_FILE, np.concatenate(labels).astype(np.int64))
    return [i for s in shards for i in s.manifest.splits[split]["ids"]]


def _bytes_to_copy(shards: list[_Shard]) -> int:
    return sum(
        (shard.path / split / name).stat().st_size
        for shard in shards
        for split in fmt.SPLITS
        for name in (fmt.VOXELS_FILE, fmt.VIEWS_FILE)
    )


def _read_shards(shard_dirs: Sequence[str | Path], skipped_file: str, partial_suffix: str):
    """Read and check the shards of one run; return them in index order (see merge_shards)."""
    if not shard_dirs:
        raise DataError("merge needs at least one shard directory")
    shards = [_read_shard(Path(p), skipped_file, partial_suffix) for p in shard_dirs]
    _check_same_plan(shards)
    _check_coverage(shards)
    if not any(s.manifest.split_size(split) for s in shards for split in fmt.SPLITS):
        raise DataError("the shards hold no usable item at all; nothing to merge")
    return sorted(shards, key=lambda s: s.entry["index"])


def _write_merged(shards: list[_Shard], work: Path, skipped_file: str, progress: bool) -> dict:
    """Write the merged arrays, skipped list and manifest into ``work``; return the manifest."""
    with tqdm(
        total=_bytes_to_copy(shards),
        desc="merge",
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
    ) as bar:
        ids = {split: _merge_split(work, split, shards, bar) for split in fmt.SPLITS}
    skipped = [line for shard in shards for line in shard.skipped]
    manifest = {k: v for k, v in shards[0].manifest.items() if k != SHARD_KEY}
    manifest.update(
        splits={s: {"size": len(v), "ids": v} for s, v in ids.items()},
        skipped=len(skipped),
        fingerprint=shards[0].entry["plan_fingerprint"],
        stats={},
        merged_from={"count": len(shards)},
    )
    with open(work / skipped_file, "w") as handle:
        handle.writelines(json.dumps(s) + "\n" for s in skipped)
    write_json_atomic(work / fmt.MANIFEST, manifest)
    return manifest


def merge_shards(
    shard_dirs: Sequence[str | Path],
    out: str | Path,
    overwrite: bool = False,
    progress: bool = True,
):
    """Merge the complete shards of one sharded prepare run into the dataset ``out``.

    Args:
        shard_dirs: the shard datasets (any order; each written with ``shard=(i, n)``).
        out: the merged dataset directory (built in ``<out>.merging``, then renamed).
        overwrite: replace an existing dataset at ``out`` made from another plan.
        progress: show a progress bar (bytes copied) on stderr.
    Returns:
        A ``PrepareResult``; ``reused`` is True when ``out`` already holds this merge.
    Raises:
        DataError: a shard is unfinished, from another plan, missing, given twice or
            inconsistent; or ``out`` is occupied (see ``check_output_location``), or its
            work folder ``<out>.merging`` was not made by switchvae or is being written.
    """
    shards = _read_shards(shard_dirs, SKIPPED_FILE, PARTIAL_SUFFIX)
    out = check_out_path(out)
    if check_output_location(out, shards[0].entry["plan_fingerprint"], overwrite):
        manifest = fmt.read_manifest(out)
        sizes = fmt.split_summary(manifest)
        return PrepareResult(out, sizes, manifest.get("skipped", 0), True)
    with work_dir(out, MERGING_SUFFIX, "merge") as work:
        clear_work_dir(work)  # a killed merge starts over
        manifest = _write_merged(shards, work, SKIPPED_FILE, progress)
        swap_into_place(work, out)
    return PrepareResult(out, fmt.split_summary(manifest), manifest["skipped"], False)
