"""The shapenet-r2n2 source on the real 3D-R2N2 fixture: splits, classes, views, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from switchvae.data import load_prepared
from switchvae.data.geometry.binvox import read_binvox
from switchvae.data.geometry.resample import resample_grid
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.sources.r2n2 import shapenetvox32_to_canonical
from switchvae.data.sources.shapenet_r2n2 import ShapeNetR2N2Source, r2n2_settings
from switchvae.errors import DataError

CHAIR = "03001627"
FIXTURE_SPLITS = {"train": 1, "val": 1, "test": 4}  # the 6 fixture chairs under ShapeNet.json
CHAIRS_IN_SPLIT_FILE = 4744 + 677 + 1357  # ShapeNet.json: chair train + val + test


def _source(root: Path, **kwargs) -> ShapeNetR2N2Source:
    return ShapeNetR2N2Source(root / "ShapeNetVox32", root / "ShapeNetRendering", **kwargs)


def _skipped(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]


def test_prepares_the_fixture_with_the_real_split_file(r2n2_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "r2n2"
    result = prepare_dataset(_source(r2n2_root), out, r2n2_settings(), progress=False)
    assert result.split_sizes == FIXTURE_SPLITS
    manifest = json.loads((out / "manifest.json").read_text())
    names = [entry["taxonomy_name"] for entry in json.loads((r2n2_root / "ShapeNet.json").read_text())]  # fmt: skip
    assert manifest["classes"] == names  # split-file order, all 13 categories
    assert manifest["source"]["taxonomy_ids"][names.index("chair")] == CHAIR
    assert CHAIR not in manifest["source"]["absent_categories"]
    assert len(manifest["source"]["absent_categories"]) == 12
    assert "no one-voxel margin" in manifest["source"]["grid"]
    # the other chairs of the split file are not on disk: skipped, each with its reason
    skipped = _skipped(out)
    assert len(skipped) == CHAIRS_IN_SPLIT_FILE - sum(FIXTURE_SPLITS.values())
    assert all("missing binvox" in s["reason"] for s in skipped)

    test = load_prepared(out, "test")
    sample = test[0]
    assert sample["views"].shape == (24, 3, 137, 137)
    assert test.classes[int(sample["label"])] == "chair"
    stored = test.views(0)
    background = stored[..., 3] == 0
    assert background.any() and (stored[..., 3] > 0).any()
    filled = (sample["views"].permute(0, 2, 3, 1).numpy() * 255).round()
    assert np.all(filled[background] == 240)  # gray 240 outside training
    model = test.ids[0].split("/")[1]
    raw = read_binvox(r2n2_root / "ShapeNetVox32" / CHAIR / model / "model.binvox")
    np.testing.assert_array_equal(test.voxels(0), shapenetvox32_to_canonical(raw))

    train = load_prepared(out, "train")
    colour = train[0]["views"].permute(0, 2, 3, 1).numpy()[train.views(0)[..., 3] == 0] * 255
    assert colour.min() >= 225 - 0.5 and colour.max() <= 255 + 0.5  # random light background


def _damaged_copy(r2n2_root: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """Copy the fixture with one damage per chair; a trimmed split file with one extra id."""
    root = tmp_path / "r2n2"
    shutil.copytree(r2n2_root, root)
    models = sorted(p.name for p in (root / "ShapeNetVox32" / CHAIR).iterdir())
    voxels, renders = root / "ShapeNetVox32" / CHAIR, root / "ShapeNetRendering" / CHAIR
    binvox = voxels / models[0] / "model.binvox"
    binvox.write_bytes(binvox.read_bytes()[:-40])  # truncated binvox
    png = renders / models[1] / "rendering" / "03.png"
    png.write_bytes(png.read_bytes()[: len(png.read_bytes()) // 2])  # a PNG cut in half
    shutil.rmtree(renders / models[2])  # missing rendering folder
    (renders / models[3] / "rendering" / "05.png").unlink()  # a missing view
    split = [{"taxonomy_id": CHAIR, "taxonomy_name": "chair", "train": models[:4], "val": [models[4]], "test": [models[5], "not-on-disk"]}]  # fmt: skip
    (root / "ShapeNet.json").write_text(json.dumps(split))
    return root, models


def test_bad_items_are_skipped_with_reasons(r2n2_root: Path, tmp_path: Path) -> None:
    root, models = _damaged_copy(r2n2_root, tmp_path)
    out = tmp_path / "out"
    result = prepare_dataset(_source(root), out, r2n2_settings(), progress=False)
    assert result.split_sizes == {"train": 0, "val": 1, "test": 1}
    reasons = {s["item_id"].split("/")[1]: s["reason"] for s in _skipped(out)}
    assert "truncated" in reasons[models[0]]
    assert "corrupt or unreadable PNG" in reasons[models[1]]
    assert "missing rendering folder" in reasons[models[2]]
    assert "05.png: rendering not found" in reasons[models[3]]
    assert "missing binvox" in reasons["not-on-disk"]
    assert load_prepared(out, "val").ids == [f"{CHAIR}/{models[4]}"]


def test_fewer_views_and_another_resolution(r2n2_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "r2n2"
    settings = r2n2_settings(resolution=16, num_views=8)
    prepare_dataset(_source(r2n2_root, categories=("chair",)), out, settings, progress=False)
    test = load_prepared(out, "test")
    assert test.classes == ["chair"] and set(test.labels.tolist()) == {0}
    assert test.views(0).shape == (8, 137, 137, 4)
    model = test.ids[0].split("/")[1]
    raw = read_binvox(r2n2_root / "ShapeNetVox32" / CHAIR / model / "model.binvox")
    expected = resample_grid(shapenetvox32_to_canonical(raw), 16)
    np.testing.assert_array_equal(test.voxels(0), expected)


def test_settings_and_arguments_are_checked(r2n2_root: Path, tmp_path: Path) -> None:
    source = _source(r2n2_root, categories=(CHAIR,))
    with pytest.raises(DataError, match="image_size=64"):
        source.channels(PrepareSettings(image_size=64, num_views=24))
    with pytest.raises(DataError, match="num_views=30"):
        source.channels(r2n2_settings(num_views=30))
    with pytest.raises(DataError, match="unknown categories"):
        _source(r2n2_root, categories=("spaceship",))
    with pytest.raises(DataError, match="ShapeNetRendering folder not found"):
        ShapeNetR2N2Source(r2n2_root / "ShapeNetVox32", tmp_path / "nope")
    lone = tmp_path / "vox" / "ShapeNetVox32"
    lone.mkdir(parents=True)
    with pytest.raises(DataError, match="--split"):
        ShapeNetR2N2Source(lone, r2n2_root / "ShapeNetRendering")
    explicit = ShapeNetR2N2Source(
        lone, r2n2_root / "ShapeNetRendering", r2n2_root / "ShapeNet.json"
    )
    assert explicit.classes()[4] == "chair"
