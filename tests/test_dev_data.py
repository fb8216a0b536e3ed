"""The real ModelNet10 development data: ``prepare voxels`` on a small slice of it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from switchvae.cli import main
from switchvae.data import load_prepared

DEV_NPZ = Path(__file__).resolve().parents[2] / "shared" / "data" / "modelnet10_dev_32.npz"
TRAIN_ROWS, VAL_ROWS = 8, 16  # train rows 4 and 6 are empty grids, val rows 12 and 14 too


@pytest.fixture(scope="module")
def dev_slice(tmp_path_factory) -> Path:
    if not DEV_NPZ.is_file():
        pytest.skip(f"development data not found: {DEV_NPZ.name} beside the repository")
    data = np.load(DEV_NPZ)
    path = tmp_path_factory.mktemp("dev") / "slice.npz"
    np.savez(
        path,
        X_train=data["X_train"][:TRAIN_ROWS], y_train=data["y_train"][:TRAIN_ROWS],
        X_val=data["X_val"][:VAL_ROWS], y_val=data["y_val"][:VAL_ROWS],
        class_names=data["class_names"],
    )  # fmt: skip
    return path


def test_prepare_voxels_reads_the_dev_archive(dev_slice: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mn10"
    argv = ["prepare", "voxels", "--npz", str(dev_slice), "--out", str(out), "--views", "4",
            "--image-size", "32", "--workers", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"][:3] == ["bathtub", "bed", "chair"] and len(manifest["classes"]) == 10
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert {(s["split"], s["item_id"]) for s in skipped} == {
        ("train", "train-000004"), ("train", "train-000006"),
        ("val", "val-000012"), ("val", "val-000014"),
    }  # fmt: skip
    assert all("empty voxel grid" in s["reason"] for s in skipped)
    val = load_prepared(out, "val")  # X_val becomes the val split, labels kept
    assert len(val) == VAL_ROWS - 2 and len(load_prepared(out, "train")) == TRAIN_ROWS - 2
    labels = np.load(dev_slice)["y_val"]
    kept = [i for i in range(VAL_ROWS) if i not in (12, 14)]
    assert val.labels.tolist() == labels[kept].tolist()
    sample = val[0]
    assert sample["voxels"].shape == (1, 32, 32, 32) and sample["views"].shape == (4, 1, 32, 32)
    extent = np.ptp(np.argwhere(val.voxels(0)), axis=0)
    assert extent.max() > 8  # a real shape, y up after the z-up conversion
