"""Evaluate one training run end to end and write ``RUN/metrics.json`` (DESIGN §4, §7).

Keys: ``config``, ``data``, ``package_version``, ``split``, ``num_test_shapes`` (the scored
split's size), ``num_train_shapes``, ``precision``, ``timing``, and one section per metric
of :mod:`switchvae.evaluate.sections` (``reconstruction``, ``latents``, ``classification``,
``retrieval``; each module documents its keys). A one-branch mode (``voxel_only``,
``image_only``) fills only its branch's keys and has no ``retrieval``. Only the train split
decides anything (SVM C, standardization); the scored split is used once, for scoring.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from switchvae import __version__
from switchvae.data.store.manifest import Manifest
from switchvae.data.store.prepared import (
    PreparedDataset,
    load_prepared,
    read_manifest,
    split_summary,
)
from switchvae.errors import ConfigError, DataError
from switchvae.evaluate.classify import (
    DEFAULT_SEEDS,
)
from switchvae.evaluate.embed import (
    DEFAULT_WORKERS,
    Embeddings,
    embed_split,
    has_image_branch,
    use_fast_layout,
)
from switchvae.evaluate.sections import Scored, headline_keys, metric_sections
from switchvae.model.switchvae import SwitchVAE
from switchvae.run import Run, check_compatible
from switchvae.train.precision import inference_precision

log = logging.getLogger(__name__)

TRAIN_SPLIT = "train"


def run_view_count(config: dict | None, stored: int) -> int:
    """Views behind z_image in evaluation and analysis: the run's ``data.eval_num_views``,
    else its ``data.num_views`` (at most ``stored``), else all."""
    data = (config or {}).get("data", {})
    wanted = int(data.get("eval_num_views") or data.get("num_views", stored))
    if wanted > stored:
        log.warning("the run used %d views, the dataset stores %d: using all", wanted, stored)
    return max(1, min(wanted, stored))


def data_summary(manifest: Manifest, data_dir: Path) -> dict:
    """What metrics.json records about the dataset."""
    return {
        "dir": str(data_dir),
        "source": manifest.source,
        "classes": list(manifest.classes),
        "splits": split_summary(manifest),
        "resolution": manifest.resolution,
        "num_views": manifest.num_views,
        "image_size": manifest.image_size,
        "channels": manifest.channels,
    }


def _open_split(data_dir: Path, split: str, num_views: int | None) -> PreparedDataset | None:
    """A split with views fixed (first ones, evaluation background); None if absent/empty."""
    try:
        dataset = load_prepared(data_dir, split, num_views, "first", train_background=False)
    except DataError:
        if split == TRAIN_SPLIT:
            return None
        raise
    return dataset if len(dataset) else None


def _embed_splits(
    model: SwitchVAE, data_dir: Path, split: str, main_views: int, options: dict, timing: dict
) -> tuple[Embeddings, Embeddings | None]:
    """Embed the scored split (with reconstruction) and the train split (latents only).

    Without an image branch only one view per shape is read (the sample contract needs one).
    """
    images = has_image_branch(model)
    tick = time.perf_counter()
    test_set = _open_split(data_dir, split, None if images else 1)
    if test_set is None:
        raise DataError(f"{data_dir}: the {split} split is empty")
    views = main_views if images else None
    test = embed_split(model, test_set, num_views=views, desc=f"embed {split}", **options)
    timing["embed_test_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    train_set = _open_split(data_dir, TRAIN_SPLIT, views or 1)
    train = (
        None
        if train_set is None
        else embed_split(
            model, train_set, num_views=views, reconstruct=False, desc="embed train", **options
        )
    )
    timing["embed_train_s"] = time.perf_counter() - tick
    return test, train


def _sections(scored: Scored, timing: dict) -> dict[str, Any]:
    """Every registered metric section, in order (timing the ones marked ``timed``)."""
    sections = {}
    for metric in metric_sections():
        tick = time.perf_counter()
        section = metric.compute(scored)
        if section is not None:
            sections[metric.key] = section
            if metric.timed:
                timing[f"{metric.key}_s"] = time.perf_counter() - tick
    return sections


def evaluate_run(
    run_dir: str | Path | Run,
    data_dir: str | Path | None = None,
    split: str = "test",
    seeds: int = DEFAULT_SEEDS,
    batch_size: int = 32,
    *,
    num_workers: int = DEFAULT_WORKERS,
    precision: str | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    write: bool = True,
) -> dict:
    """Evaluate ``RUN/checkpoints/last.pt`` on ``split`` and write ``RUN/metrics.json``.

    Args:
        run_dir: the training run directory (or its opened :class:`~switchvae.run.Run`).
        data_dir: prepared dataset; None reads ``RUN/run.json``'s ``"data_dir"``.
        split: the split scored ("test" or "val"); the SVMs always train on "train".
        seeds: CV/solver seeds for the SVMs.
        batch_size: shapes per forward pass.
        num_workers: DataLoader workers and parallel SVM cross-validation fits.
        precision: ``auto``, ``32-true``, ``bf16-mixed`` or ``16-mixed`` for the forward
            passes; None follows the run's ``train.precision``, resolved on this machine
            (:func:`switchvae.train.precision.inference_precision`).
        device: where the model runs.
        progress: show progress bars.
        write: write ``RUN/metrics.json`` (atomically).

    Returns:
        The metrics dict (see the module docstring for its keys).
    """
    start = time.perf_counter()
    run = Run.open(run_dir, device)
    if split == TRAIN_SPLIT:
        raise ConfigError("evaluate a held-out split (test or val): the SVMs are fit on train")
    data_dir = run.data_dir(data_dir)
    manifest = read_manifest(data_dir)
    model, config = run.model, run.config
    check_compatible(model.config, manifest, data_dir)
    use_fast_layout(model)
    main_views = run_view_count(config, manifest.num_views)
    choice = inference_precision(config, device, precision)
    log.info("evaluating %s in %s: %s", run.path, choice.precision, choice.reason)
    timing = {"load_s": time.perf_counter() - start}
    options = {"batch_size": batch_size, "num_workers": num_workers, "precision": choice}
    test, train = _embed_splits(
        model, data_dir, split, main_views, {**options, "progress": progress}, timing
    )
    scored = Scored(test, train, list(manifest.classes), seeds, max(1, num_workers))
    metrics: dict[str, Any] = {
        "package_version": __version__,
        "split": split,
        "num_test_shapes": len(test.labels),
        "num_train_shapes": 0 if train is None else len(train.labels),
        "precision": choice.short,
        "config": config if config is not None else {"model": asdict(model.config)},
        "data": data_summary(manifest, data_dir),
        **_sections(scored, timing),
    }
    metrics["timing"] = {**timing, "total_s": time.perf_counter() - start}
    if write:
        run.write_metrics(metrics)
    return metrics


def flatten_metrics(metrics: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{"a.b.c": leaf}`` (lists and scalars are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, path + "."))
        else:
            flat[path] = value
    return flat


def summarize_runs(runs: list[dict], keys: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Mean and sample std over runs of each key (default: every section's headline keys)
    present in at least one run.

    Returns:
        ``{key: {"mean", "std", "runs"}}`` (std 0 for a single run).
    """
    flat = [flatten_metrics(run) for run in runs]
    summary = {}
    for key in headline_keys() if keys is None else keys:
        values = [f[key] for f in flat if isinstance(f.get(key), (int, float))]
        if values:
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            summary[key] = {"mean": float(np.mean(values)), "std": std, "runs": len(values)}
    return summary
