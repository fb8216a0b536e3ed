"""Which folder ``fit`` may write its run into.

A run directory is recognised by ``RUN/run.json``, which ``fit`` writes before anything
else. ``fit --out`` accepts a new folder, an empty one, or a run of this package (with
``--resume`` once it holds checkpoints). It refuses a folder holding files the package did
not write (so a user's ``config.yaml`` or ``log.jsonl`` is never overwritten), a prepared
dataset, and any folder inside the dataset being trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

from switchvae.data.store.prepared import MANIFEST
from switchvae.errors import ConfigError
from switchvae.locks import LOCK_FILE
from switchvae.run import RUN_INFO_FILE, Run


def is_run_dir(path: Path) -> bool:
    """True when ``path`` holds the ``run.json`` that ``fit`` writes first."""
    try:
        info = json.loads(Run(path).info_file.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and "package_version" in info


def check_run_dir(run_dir: Path, data_dir: str | Path, resume: bool) -> None:
    """Refuse an ``--out`` that ``fit`` must not write into (see the module docstring).

    Raises:
        ConfigError: naming the folder and what is wrong with it.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} is a file, not a run directory")
    data, target = Path(data_dir).resolve(), run_dir.resolve()
    if target == data or data in target.parents:
        raise ConfigError(
            f"--out {run_dir} is inside the dataset {data_dir}; write runs outside the dataset"
        )
    if (run_dir / MANIFEST).is_file():
        raise ConfigError(f"--out {run_dir} holds a prepared dataset, not a run; choose another")
    if run_dir.is_dir() and not is_run_dir(run_dir):
        foreign = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_FILE)
        if foreign:
            raise ConfigError(
                f"--out {run_dir} is not a switchvae run (no {RUN_INFO_FILE}; it holds "
                f"{foreign[0]!r}); refusing to write there, choose a new or empty folder"
            )
    if not resume and Run(run_dir).has_checkpoints():
        raise ConfigError(
            f"{run_dir} already holds checkpoints; use --resume to continue that run "
            "or choose another --out"
        )
