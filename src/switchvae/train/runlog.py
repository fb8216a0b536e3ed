"""Run logs: one JSON line per log step in ``RUN/log.jsonl`` and TensorBoard in ``RUN/tb``.

Only process 0 writes. On resume, records after the resumed step (written by the killed run
after its last checkpoint) are dropped from both, so the logs read like one run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from switchvae.atomic import write_text_atomic
from switchvae.run import Run

log = logging.getLogger(__name__)


def _truncate_after(path: Path, step: int) -> None:
    """Keep only records with ``step <= step`` (atomically rewritten)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
    write_text_atomic(path, "".join(f"{line}\n" for line in kept))


class RunLogger:
    """Writes log records on process 0; a no-op elsewhere.

    Args:
        run_dir: the run directory.
        enabled: True on global rank 0.
        start_step: the step the run starts (or resumes) at.
    """

    def __init__(self, run_dir: Path, enabled: bool, start_step: int = 0) -> None:
        self.enabled = enabled
        self.path = Run(run_dir).log_file
        self._writer = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_after(self.path, start_step)
        from torch.utils.tensorboard import SummaryWriter

        tensorboard = Run(run_dir).tensorboard_dir
        self._writer = SummaryWriter(str(tensorboard), purge_step=start_step + 1)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (must hold ``step``) as a JSON line and its numbers as scalars."""
        if not self.enabled:
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=False) + "\n")
        step = int(record["step"])
        for key, value in record.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)):
                self._writer.add_scalar(key, value, step)
        log.debug("%s", record)

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
