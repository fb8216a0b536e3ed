"""Where a prepared dataset is written: atomic files, the output location, the final swap.

Nothing here removes a folder the package did not provably make. A work folder
(``<out>.partial``, ``<out>.merging``) is made with a marker file inside
(:data:`WORK_MARKER`); an existing one is reused or cleared only when it holds that marker
(or, from older versions, a ``plan.json``), and refused otherwise. The dataset that an
``--overwrite`` replaces is moved aside under a fresh unique name before it is removed,
so no user folder such as ``<out>.old`` is ever in the way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchvae.atomic import write_text_atomic
from switchvae.data.store import prepared as fmt
from switchvae.errors import DataError
from switchvae.locks import LOCK_FILE, hold_lock

PARTIAL_SUFFIX = ".partial"  # the work folder of a prepare run: <out>.partial
SKIPPED_FILE = "skipped.jsonl"  # items a source could not build, one JSON line each
WORK_MARKER = ".switchvae-work.json"
LEGACY_MARKER = "plan.json"  # what a work folder of an older version holds


@dataclass
class PrepareResult:
    """What a prepare (or merge) run produced."""

    path: Path
    split_sizes: dict[str, int]
    skipped: int
    reused: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` via a temporary file and a rename (never half-written)."""
    write_text_atomic(path, json.dumps(payload, indent=1))


def check_out_path(out: str | Path) -> Path:
    """``--out`` as a Path; DataError for a name that cannot get a ``.partial`` sibling.

    ``.``, ``..``, ``/`` and any folder that holds the current one are refused: the
    dataset is built beside ``out`` and renamed onto it at the end.
    """
    out = Path(out)
    here = Path.cwd().resolve()
    target = out.resolve()
    if out.name in ("", ".", "..") or target == here or target in here.parents:
        raise DataError(
            f"--out {out}: name a new folder for the dataset (e.g. --out data/synthetic), "
            "not the current folder or one that holds it"
        )
    return out


def check_output_location(out: Path, fingerprint: str, overwrite: bool) -> bool:
    """Decide what to do with an existing ``out``: True = reuse it as it is."""
    if not out.exists():
        return False
    if fmt.is_prepared_dataset(out):
        manifest = fmt.read_manifest(out)
        if manifest.get("fingerprint") == fingerprint and not overwrite:
            return True
        if not overwrite:
            raise DataError(
                f"{out} already holds a prepared dataset made with other settings; "
                "pass --overwrite to replace it or choose another --out"
            )
        return False
    if out.is_dir() and not any(out.iterdir()):
        return False
    raise DataError(
        f"{out} exists and is not a prepared dataset; refusing to write there "
        "(choose an empty or new --out)"
    )


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def is_own_work_dir(path: Path) -> bool:
    """True when ``path`` is a work folder this package made (it holds the marker)."""
    return (path / WORK_MARKER).is_file() or (path / LEGACY_MARKER).is_file()


def _claim(work: Path, command: str) -> None:
    """Create ``work`` with its marker, or check that the existing one is ours."""
    try:
        work.mkdir(parents=True)
    except FileExistsError:
        if work.is_symlink() or not work.is_dir():
            raise DataError(
                f"{work} exists and is not a folder made by switchvae {command}; "
                "move it away or choose another --out"
            ) from None
        if is_own_work_dir(work):
            return
        if any(p.name != LOCK_FILE for p in work.iterdir()):
            raise DataError(
                f"{work} exists and was not made by switchvae {command}; refusing to use or "
                "remove it (move it away or choose another --out)"
            ) from None
    write_json_atomic(work / WORK_MARKER, {"made_by": f"switchvae {command}"})


def clear_work_dir(work: Path) -> None:
    """Empty an own work folder, keeping its marker and lock (the caller holds the lock)."""
    if not is_own_work_dir(work):
        raise DataError(f"{work} was not made by switchvae; refusing to clear it")
    for entry in work.iterdir():
        if entry.name in (WORK_MARKER, LOCK_FILE):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextmanager
def work_dir(out: Path, suffix: str, command: str) -> Iterator[Path]:
    """Claim and lock the work folder ``<out><suffix>`` for the body; yield it.

    The body ends with :func:`swap_into_place` (the work folder becomes ``out``), or
    leaves the work folder for a later run to resume. Before the lock is released, the
    marker and the lock file are removed from a published ``out``; a work folder that the
    body left holding nothing but them is removed too.

    Raises:
        DataError: the work folder exists but was not made by this package, or another
            process is writing it.
    """
    work = out.with_name(out.name + suffix)
    _claim(work, command)
    with hold_lock(work, command, out):
        try:
            yield work
        finally:
            _tidy(work, out)


def _tidy(work: Path, out: Path) -> None:
    """Drop the bookkeeping files of a published ``out``, or an unused work folder."""
    bookkeeping = (WORK_MARKER, LOCK_FILE)
    if work.is_dir() and all(p.name in bookkeeping for p in work.iterdir()):
        shutil.rmtree(work, ignore_errors=True)
    elif not work.exists() and (out / WORK_MARKER).is_file():
        for name in bookkeeping:
            (out / name).unlink(missing_ok=True)


def swap_into_place(work: Path, out: Path) -> None:
    """Rename the finished work directory to ``out``; an old ``out`` goes only afterwards.

    Raises:
        DataError: ``out`` is there but is neither a prepared dataset nor an empty folder
            (it changed while the work was done); the finished work is left in place.
    """
    if not out.exists() and not out.is_symlink():
        os.replace(work, out)
        return
    if out.is_symlink() or not (fmt.is_prepared_dataset(out) or _is_empty_dir(out)):
        raise DataError(
            f"{out} is no longer a prepared dataset or an empty folder; the finished "
            f"dataset is kept in {work}"
        )
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.replaced-", dir=out.parent))
    os.replace(out, old)  # onto the empty folder just made: a name nobody else uses
    os.replace(work, out)
    shutil.rmtree(old)
