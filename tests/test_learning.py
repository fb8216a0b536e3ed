"""The method learns: a short `tiny` fit on the synthetic set beats a random-init model,
and `switchvae demo` runs end to end (prepare -> fit -> evaluate -> report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from switchvae.cli import main
from switchvae.config import load_config
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.sources.synthetic import SyntheticSource
from switchvae.demo import _untrained_run
from switchvae.evaluate.metrics import evaluate_run, flatten_metrics
from switchvae.train.fit import fit

# 12 classes x 8 shapes: 5 train / 1 val / 2 test per class at the 0.7/0.1/0.2 split.
SHAPES_PER_CLASS = 8
SETTINGS = PrepareSettings(resolution=32, num_views=4, image_size=32)
FIT_OVERRIDES = [
    "train.epochs=12", "loss.kl_cycle_epochs=12", "data.batch_size=8", "train.val_every_epochs=12",
    "train.precision=32-true", "optim.lr=0.003",  # fp32: the same arithmetic on every CPU
    "model.p_voxel=0.5",  # the image path gets half the decoder steps of this short run
]  # fmt: skip


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("learning") / "synthetic"
    prepare_dataset(SyntheticSource(SHAPES_PER_CLASS), out, SETTINGS, workers=1, progress=False)
    return out


@pytest.mark.slow
def test_trained_latents_beat_a_random_init_model(synthetic: Path, tmp_path: Path):
    torch.set_num_threads(2)
    config = load_config("tiny", overrides=FIT_OVERRIDES)
    run = tmp_path / "run"
    fit(config, synthetic, run, progress=False)
    options = {"seeds": 1, "num_workers": 0, "progress": False, "split": "test"}
    trained = flatten_metrics(evaluate_run(run, synthetic, **options))
    untrained = flatten_metrics(evaluate_run(_untrained_run(config, run, synthetic), **options))
    for key in (
        "reconstruction.voxel.mean_iou",
        "reconstruction.image.mean_iou",
        "retrieval.image_to_voxel.top5",
    ):
        assert trained[key] > untrained[key] + 0.05, (key, trained[key], untrained[key])


@pytest.mark.slow
def test_demo_runs_end_to_end_and_reuses_its_work(tmp_path: Path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--shapes-per-class", "3", "--workers", "1",
            "--set", "train.epochs=1", "--set", "data.batch_size=4", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    for text in ("IoU from voxels", "retrieval image->voxel top-1", "report:", "untrained"):
        assert text in printed
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert 0.0 <= metrics["reconstruction"]["voxel"]["mean_iou"] <= 1.0
    html = (out / "run" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3
    # a second run reuses the prepared set and the finished training run
    manifest_time = (out / "data" / "manifest.json").stat().st_mtime_ns
    checkpoint = out / "run" / "checkpoints" / "last.pt"
    checkpoint_time = checkpoint.stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "data" / "manifest.json").stat().st_mtime_ns == manifest_time
    assert checkpoint.stat().st_mtime_ns == checkpoint_time
