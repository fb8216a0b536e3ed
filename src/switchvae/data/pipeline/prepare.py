"""The prepare pipeline: any source of shapes -> a prepared dataset, in parallel, resumable.

A *source* lists items (id, label, split, a small picklable payload) and builds each one's
(voxels, views) pair. This module owns everything else: the temporary directory, memory-
mapped output arrays, worker processes, progress, resume after a kill, skipped items and
the final atomic rename. Work is done in chunks; a chunk is written into the memory maps,
flushed, and only then marked done by a small file, so a killed run redoes at most the
chunks that were in flight.

Safety: the work directory is claimed and locked (:func:`output_dir.work_dir`), so a
folder the user happens to have at ``<out>.partial`` is never used or removed, and a
second prepare into the same ``--out`` stops at once. The arrays get their disk blocks
when they are made (:mod:`.allocate`): a full disk is an error with a message, never a
crash, and the work directory stays resumable. An item whose file cannot be read or
decoded is skipped (listed in ``skipped.jsonl``) instead of stopping the run.
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from switchvae.data.pipeline.prepare_work import DONE_DIR, ChunkRunner, chunks, finalize, run_chunks
from switchvae.data.pipeline.shard import plan_fingerprint, select_shard
from switchvae.data.sources.base import ItemSpec, PrepareSettings, Source, printable_ids
from switchvae.data.store import prepared as fmt
from switchvae.data.store.allocate import allocate_arrays, check_free_space, planned_bytes
from switchvae.data.store.output_dir import (
    PARTIAL_SUFFIX,
    SKIPPED_FILE,
    WORK_MARKER,
    PrepareResult,
    check_out_path,
    check_output_location,
    clear_work_dir,
    swap_into_place,
    work_dir,
    write_json_atomic,
)
from switchvae.errors import DataError
from switchvae.locks import LOCK_FILE

__all__ = ["ItemSpec", "PrepareResult", "PrepareSettings", "Source", "prepare_dataset"]

log = logging.getLogger(__name__)

PLAN_FILE = "plan.json"
DEFAULT_CHUNK_SIZE = 16


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
        DataError: bad output location (not ours, or another prepare is writing it), not
            enough disk space, or no usable item at all.
    """
    out = check_out_path(out)
    items = printable_ids(source.items())
    if not items:
        raise DataError(f"source {source.name!r} lists no items to prepare")
    fingerprint = plan_fingerprint(source, settings, items)
    items, fingerprint, shard_entry = select_shard(items, shard, fingerprint)
    if check_output_location(out, fingerprint, overwrite):
        return _reused(out)
    with work_dir(out, PARTIAL_SUFFIX, "prepare") as work:
        if check_output_location(out, fingerprint, overwrite):  # finished meanwhile
            return _reused(out)
        try:
            return _prepare_into(
                work,
                out,
                source,
                settings,
                items,
                fingerprint,
                shard_entry,
                (workers, chunk_size, progress),
            )
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            raise DataError(
                f"no space left on the device while writing {work}; free some space and run "
                "the same command again to resume"
            ) from None


def _reused(out: Path) -> PrepareResult:
    manifest = fmt.read_manifest(out)
    sizes, skipped_count = fmt.split_summary(manifest), manifest.get("skipped", 0)
    return PrepareResult(out, sizes, skipped_count, True, manifest.get("stats", {}))


def _prepare_into(
    work: Path,
    out: Path,
    source: Source,
    settings: PrepareSettings,
    items: list[ItemSpec],
    fingerprint: str,
    shard_entry: dict[str, Any] | None,
    run: tuple[int, int, bool],
) -> PrepareResult:
    """Build every item in the (locked) work directory, then publish it as ``out``."""
    workers, chunk_size, progress = run
    channels = source.channels(settings)
    _start_work(work, fingerprint, items, settings, channels)
    done = {p.stem for p in (work / DONE_DIR).glob("*.json")}
    jobs = [job for job in chunks(items, chunk_size) if f"{job[0]}-{job[1]:08d}" not in done]
    already = len(items) - sum(len(job[2]) for job in jobs)
    if already:
        log.info("resuming %s: %d of %d shapes already done", work, already, len(items))
    run_one = ChunkRunner(source, settings, work)
    with tqdm(
        total=len(items),
        initial=already,
        desc=f"prepare {source.name}",
        unit="shape",
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        run_chunks(jobs, run_one, workers, bar)

    manifest, skipped = finalize(work, source, settings, items, channels)
    if shard_entry is None and not any(s["size"] for s in manifest["splits"].values()):
        raise DataError(f"no usable item in source {source.name!r}; see {work / SKIPPED_FILE}")
    manifest["fingerprint"] = fingerprint
    if shard_entry is not None:
        manifest["shard"] = shard_entry
    manifest["stats"] = stats = source_stats(source, work, manifest) if not shard_entry else {}
    _publish(work, out, manifest, skipped)
    return PrepareResult(out, fmt.split_summary(manifest), len(skipped), False, stats)


def _planned_fingerprint(plan_path: Path) -> str | None:
    try:
        return json.loads(plan_path.read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _start_work(
    work: Path, fingerprint: str, items: list[ItemSpec], settings: PrepareSettings, channels: int
) -> None:
    """Fill the claimed work directory with empty arrays, or keep one of the same plan."""
    plan_path = work / PLAN_FILE
    if _planned_fingerprint(plan_path) == fingerprint:
        return
    if any(p.name not in (WORK_MARKER, LOCK_FILE) for p in work.iterdir()):
        log.info("discarding %s: it was started with other settings", work)
        clear_work_dir(work)
    check_free_space(work, planned_bytes(items, settings, channels), f"the dataset in {work}")
    (work / DONE_DIR).mkdir()
    allocate_arrays(work, items, settings, channels)
    write_json_atomic(plan_path, {"fingerprint": fingerprint})


def _publish(work: Path, out: Path, manifest: dict[str, Any], skipped: list[dict]) -> None:
    """Write the skipped list and the manifest, drop the bookkeeping, rename into place."""
    with open(work / SKIPPED_FILE, "w") as handle:
        handle.writelines(json.dumps(s) + "\n" for s in skipped)
    write_json_atomic(work / fmt.MANIFEST, manifest)
    (work / PLAN_FILE).unlink(missing_ok=True)
    shutil.rmtree(work / DONE_DIR, ignore_errors=True)
    swap_into_place(work, out)


def source_stats(source: Source, work: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Statistics a source wants recorded once the arrays are complete (may be empty)."""
    compute = getattr(source, "stats", None)
    return compute(work, manifest) if compute is not None else {}
