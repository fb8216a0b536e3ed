"""Reading a run directory's small files: the JSON-lines log, metrics, checkpoint progress.

Each reader tolerates what a real run leaves behind (a log line cut by a kill, no metrics
yet, a bare model checkpoint) and returns empty values instead of failing: the report shows
what exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

LOG_FILE = "log.jsonl"


def read_log(path: Path) -> list[dict]:
    """The JSON objects of a ``log.jsonl`` (unreadable lines, e.g. cut by a kill, skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_metrics(path: Path) -> dict | None:
    """``metrics.json`` as a dict, or None when absent or unreadable."""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return metrics if isinstance(metrics, dict) else None


def read_checkpoint_info(path: Path) -> dict:
    """The small entries of a checkpoint (step, epoch, versions); {} when unreadable.

    Memory-mapped, so the weights are not read.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # a missing, old-style (non-zip) or foreign file: no progress shown
        return {}
    keys = ("step", "epoch", "package_version")
    return {k: payload[k] for k in keys if k in payload} if isinstance(payload, dict) else {}
