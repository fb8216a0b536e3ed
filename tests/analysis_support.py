"""Builders shared by the analysis tests: a tiny prepared dataset and a tiny run directory.

The run holds a random-init model (the analysis code must not care whether it is trained),
a fake ``log.jsonl`` (with a line cut by a kill) and a ``metrics.json`` in the evaluation
layout.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.sources.synthetic import SyntheticSource
from switchvae.model.config import ModelConfig
from switchvae.model.switchvae import SwitchVAE

DATA_SETTINGS = PrepareSettings(resolution=32, num_views=3, image_size=32)
LATENT_DIM = 8


def make_data(root: Path) -> Path:
    """12 synthetic classes, 3 shapes each (train 24, test 12), 3 views of 32², 32³ grids.

    Made once under ``root``: a later call with the same root reuses it (prepare resumes).
    """
    out = root / "data"
    prepare_dataset(SyntheticSource(shapes_per_class=3), out, DATA_SETTINGS, progress=False)
    return out


def shared_data(tmp_path_factory) -> Path:
    """One dataset for every analysis test module of a pytest session."""
    return make_data(tmp_path_factory.getbasetemp())


def fake_metrics(classes: list[str], two_branches: bool = True) -> dict:
    """A metrics.json in the layout of ``switchvae.evaluate.metrics`` (numbers made up)."""
    per_class = {name: 0.4 + 0.01 * k for k, name in enumerate(classes)}
    svm = {
        "linear_svm": {"accuracy": 0.75, "std": 0.02, "accuracies": [0.73, 0.77]},
        "rbf_svm": {"accuracy": 0.8125, "std": 0.0, "accuracies": [0.8125, 0.8125]},
    }
    metrics = {
        "package_version": "0.1.0",
        "split": "test",
        "num_test_shapes": 12,
        "precision": "fp32",
        "reconstruction": {
            "threshold": 0.5,
            "voxel": {"mean_iou": 0.512, "pooled_iou": 0.55, "per_class": per_class},
        },
        "classification": {"protocol": {"C_grid": [0.1, 1.0, 10.0], "seeds": 2}, "voxel": svm},
    }
    if two_branches:
        views = {
            "1": {"mean_iou": 0.301, "pooled_iou": 0.33, "num_views": 1},
            "all": {"mean_iou": 0.377, "pooled_iou": 0.39, "num_views": 3},
        }
        metrics["reconstruction"]["image"] = {
            "mean_iou": 0.377, "pooled_iou": 0.39, "per_class": per_class,
            "num_views": 3, "views": views,
        }  # fmt: skip
        metrics["classification"]["image"] = svm
        metrics["retrieval"] = {
            "image_to_voxel": {"top1": 0.25, "top5": 0.6667, "gallery_size": 12, "distance": "l2"}
        }
    return metrics


def write_log(path: Path, steps: int = 30) -> None:
    """Training records every step, validation every 10, and a last line cut short."""
    lines = []
    for step in range(1, steps + 1):
        decay = math.exp(-step / 10)
        record = {"step": step, "epoch": step // 10, "lr": 1e-3}
        record.update({"loss/total": 900 * decay + 100, "loss/reconstruction": 880 * decay + 90})
        record.update({"loss/kl": 5.0 + step, "loss/alignment": 2 * decay})
        lines.append(json.dumps(record))
        if step % 10 == 0:
            val = {"step": step, "epoch": step // 10, "val/loss/total": 1000 * decay + 120}
            val.update({"val/iou_voxel": 0.2 + step / 100, "val/iou_image": 0.1 + step / 100})
            lines.append(json.dumps(val))
    path.write_text("\n".join(lines) + '\n{"step": 31, "loss/to')


def make_run(root: Path, data_dir: Path | None, mode: str = "switch", seed: int = 0) -> Path:
    """A run directory: random-init tiny model, fake log, fake metrics (data dir recorded)."""
    run = root / f"run_{mode}"
    (run / "checkpoints").mkdir(parents=True)
    torch.manual_seed(seed)
    config = ModelConfig(
        latent_dim=LATENT_DIM, image_feature_dim=32, image_channels=1, aggregation="max", mode=mode
    )
    torch.save(SwitchVAE(config).checkpoint_payload(), run / "checkpoints" / "last.pt")
    write_log(run / "log.jsonl")
    classes = SyntheticSource().classes()
    metrics = fake_metrics(classes, two_branches=mode == "switch")
    if data_dir is not None:
        metrics["data"] = {"dir": str(data_dir)}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run
