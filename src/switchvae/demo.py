"""The main job: synthetic shapes -> fit (``cpu`` preset) -> evaluate -> report.

Every stage reuses what an earlier run of the demo left in ``out``: the prepared set is
reused when its settings match, a finished training run is not retrained (an interrupted
one resumes from its last checkpoint), so re-running after a kill continues the work.
An untrained model with the same settings is evaluated beside the trained one, so the
summary shows what training bought.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from switchvae.config import Config, load_config
from switchvae.data.pipeline.prepare import PrepareResult, PrepareSettings, prepare_dataset
from switchvae.data.sources.synthetic import SyntheticSource
from switchvae.run import Run

log = logging.getLogger(__name__)

DATA_DIR = "data"
RUN_DIR = "run"
UNTRAINED_DIR = "untrained"


@dataclass
class DemoResult:
    """Where the demo wrote things and the headline numbers (trained and untrained)."""

    out: Path
    data: PrepareResult
    run_dir: Path
    report: Path | None
    metrics: dict[str, Any]
    untrained_metrics: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    precision: dict[str, str] = field(default_factory=dict)  # run.json's resolved precision


def _untrained_run(config: Config, run_dir: Path, data_dir: Path) -> Run:
    """Write a randomly initialised model with the run's settings as a run directory."""
    from switchvae.config import config_to_dict
    from switchvae.model.switchvae import SwitchVAE

    untrained = Run(run_dir.parent / UNTRAINED_DIR)
    payload = None
    if not untrained.last_checkpoint.exists():
        torch.manual_seed(config.train.seed)
        payload = SwitchVAE(config.model).checkpoint_payload()
        payload["config"] = config_to_dict(config)
    untrained.save_bare(payload, data_dir)
    return untrained


def run_demo(
    out: str | Path,
    workers: int = 1,
    overrides: tuple[str, ...] = (),
    shapes_per_class: int | None = None,
    progress: bool = True,
) -> DemoResult:
    """Run the whole demo under ``out`` (``data/``, ``run/``, ``untrained/``).

    Args:
        out: demo directory; created if needed, reused if it holds an earlier demo.
        workers: processes for data preparation.
        overrides: ``key=value`` settings over the ``cpu`` preset (e.g. fewer epochs).
        shapes_per_class: size of the synthetic set (default: the source's default).
        progress: show progress bars.
    """
    from switchvae.analysis.report import write_report
    from switchvae.evaluate.metrics import evaluate_run
    from switchvae.train.fit import fit

    out = Path(out)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    source = SyntheticSource() if shapes_per_class is None else SyntheticSource(shapes_per_class)
    data_dir = out / DATA_DIR
    data = prepare_dataset(source, data_dir, PrepareSettings(), workers, progress=progress)
    seconds["prepare"] = time.perf_counter() - start

    config = load_config("cpu", overrides=list(overrides))
    run_dir = out / RUN_DIR
    run = Run(run_dir)
    start = time.perf_counter()
    fit(config, data_dir, run_dir, resume=run.has_checkpoints(), progress=progress)
    seconds["fit"] = time.perf_counter() - start

    start = time.perf_counter()
    metrics = evaluate_run(run, data_dir, progress=progress)
    untrained = _untrained_run(config, run_dir, data_dir)
    untrained_metrics = evaluate_run(untrained, data_dir, progress=progress)
    seconds["evaluate"] = time.perf_counter() - start

    start = time.perf_counter()
    report = write_report(run, data_dir)  # the model evaluate loaded, reused
    seconds["report"] = time.perf_counter() - start
    precision = run.info().get("precision", {})
    return DemoResult(out, data, run_dir, report, metrics, untrained_metrics, seconds, precision)
