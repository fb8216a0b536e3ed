"""Where a prepared dataset is written: atomic files, the output location, the final swap."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from switchvae.data import prepared as fmt
from switchvae.errors import DataError


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` via a temporary file and a rename (never half-written)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)


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


def swap_into_place(work: Path, out: Path) -> None:
    """Rename the finished work directory to ``out``; an old ``out`` goes only afterwards."""
    if out.exists():
        old = out.with_name(out.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        os.replace(work, out)
        shutil.rmtree(old)
    else:
        os.replace(work, out)
