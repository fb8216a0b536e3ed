"""The modelnet source: real fixture layouts, the z-up conversion, binvox files, bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import trimesh

from switchvae.data import load_prepared
from switchvae.data.geometry.binvox import write_binvox
from switchvae.data.geometry.resample import conform_grid
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.sources.modelnet import MODELNET_EXPECTED, ModelNetSource
from switchvae.errors import ConfigError, DataError

SMALL = PrepareSettings(resolution=32, num_views=2, image_size=32)


def _write_off(path: Path, mesh: trimesh.Trimesh, glued_header: bool = True) -> None:
    """Write an OFF file; ``glued_header`` gives ModelNet's broken ``OFF<n> <m> 0`` line."""
    head = f"OFF{len(mesh.vertices)} {len(mesh.faces)} 0\n"
    if not glued_header:
        head = head.replace("OFF", "OFF\n", 1)
    rows = [" ".join(f"{v:.6f}" for v in vertex) for vertex in mesh.vertices]
    rows += ["3 " + " ".join(str(i) for i in face) for face in mesh.faces]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + "\n".join(rows) + "\n")


def _tower_z_up() -> trimesh.Trimesh:
    """Tall along z (1.0), a foot reaching towards +y at the bottom: asymmetric on purpose."""
    column = trimesh.creation.box(extents=(0.2, 0.2, 1.0))
    column.apply_translation((0.0, 0.0, 0.5))
    foot = trimesh.creation.box(extents=(0.2, 0.6, 0.1))
    foot.apply_translation((0.0, 0.3, 0.05))
    return trimesh.util.concatenate([column, foot])


def _tower_grid_z_up(side: int = 64) -> np.ndarray:
    """The same tower as a binvox-style (x, y, z) grid, z up."""
    grid = np.zeros((side,) * 3, dtype=bool)
    grid[28:36, 8:16, 2:62] = True  # column
    grid[28:36, 8:40, 2:6] = True  # foot towards +y
    return grid


def _assert_tower_is_y_up(grid: np.ndarray) -> None:
    """Tall along y; the foot (old +y) points to canonical -z, at the bottom."""
    index = np.argwhere(grid)
    extent = index.max(axis=0) - index.min(axis=0) + 1
    assert extent[1] > max(extent[0], extent[2])
    bottom = index[index[:, 1] == index[:, 1].min()]
    top = index[index[:, 1] == index[:, 1].max()]
    assert bottom[:, 2].min() < top[:, 2].min() - 5  # the foot reaches towards -z
    assert bottom[:, 2].max() == top[:, 2].max()  # the column's back stays at +z


@pytest.mark.parametrize(
    ("release", "classes", "sizes"),
    [
        ("ModelNet10", ["bathtub", "sofa", "table"], {"train": 7, "val": 0, "test": 2}),
        ("ModelNet40", ["desk", "monitor"], {"train": 2, "val": 0, "test": 2}),
    ],
)
def test_prepares_the_real_fixture(modelnet_root, tmp_path, release, classes, sizes) -> None:
    out = tmp_path / release
    result = prepare_dataset(ModelNetSource(modelnet_root / release), out, SMALL, progress=False)
    assert result.split_sizes == sizes and result.skipped == 0
    test = load_prepared(out, "test")
    assert test.classes == classes
    assert [test.classes[label] for label in test.labels] == [i.split("/")[0] for i in test.ids]
    assert test.voxels(0).shape == (32, 32, 32) and test.voxels(0).any()
    assert test[0]["views"].shape == (2, 1, 32, 32)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["up_axis"] == "z" and manifest["source"]["release"] == release


def test_validation_is_carved_per_class_and_stable(modelnet_root: Path) -> None:
    source = ModelNetSource(modelnet_root / "ModelNet10", val_fraction=0.4, seed=3)
    items = source.items()
    val = [i for i in items if i.split == "val"]
    # bathtub: round(0.4 * 5) = 2; sofa and table have 1 train file each, which stays
    assert [i.item_id.split("/")[0] for i in val] == ["bathtub", "bathtub"]
    most = ModelNetSource(modelnet_root / "ModelNet10", val_fraction=0.9).items()
    assert [i.split for i in most if i.item_id.startswith("sofa/")] == ["train", "test"]
    assert [i for i in items if i.split == "test"] == [
        i for i in ModelNetSource(modelnet_root / "ModelNet10").items() if i.split == "test"
    ]
    assert items == ModelNetSource(modelnet_root / "ModelNet10", val_fraction=0.4, seed=3).items()
    with pytest.raises(ConfigError, match="val_fraction"):
        ModelNetSource(modelnet_root / "ModelNet10", val_fraction=1.0)


def test_z_up_meshes_and_binvox_end_up_y_up(tmp_path: Path) -> None:
    root = tmp_path / "ModelNetToy"
    _write_off(root / "tower" / "train" / "tower_0001.off", _tower_z_up())
    _write_off(root / "tower" / "test" / "tower_0002.off", _tower_z_up(), glued_header=False)
    write_binvox(root / "tower" / "test" / "tower_0003.binvox", _tower_grid_z_up())
    out = tmp_path / "out"
    assert prepare_dataset(ModelNetSource(root), out, SMALL, progress=False).skipped == 0
    train, test = load_prepared(out, "train"), load_prepared(out, "test")
    assert test.ids == ["tower/tower_0002", "tower/tower_0003"]
    for grid in (train.voxels(0), test.voxels(0), test.voxels(1)):
        _assert_tower_is_y_up(grid)
    np.testing.assert_array_equal(test.voxels(0), train.voxels(0))  # glued header: same mesh
    np.testing.assert_array_equal(test.voxels(1), conform_grid(_tower_grid_z_up(), 32, "z"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["binvox_files"] == 1


def test_input_kind_picks_mesh_or_binvox(tmp_path: Path) -> None:
    root = tmp_path / "ModelNetToy"
    _write_off(root / "tower" / "train" / "tower_0001.off", _tower_z_up())
    write_binvox(root / "tower" / "train" / "tower_0001.binvox", _tower_grid_z_up())
    kinds = {kind: ModelNetSource(root, input_kind=kind).items()[0].payload[1] for kind in ("auto", "off", "binvox")}  # fmt: skip
    assert kinds == {"auto": "off", "off": "off", "binvox": "binvox"}


def test_corrupt_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    root = tmp_path / "ModelNetToy"
    _write_off(root / "tower" / "train" / "tower_0001.off", _tower_z_up())
    _write_off(root / "tower" / "test" / "tower_0005.off", _tower_z_up())
    (root / "tower" / "train" / "tower_0002.off").write_bytes(b"\x89garbage\x00\x01 not a mesh")
    (root / "tower" / "train" / "tower_0003.off").write_text("OFF\n0 0 0\n")  # empty mesh
    write_binvox(root / "tower" / "test" / "tower_0004.binvox", _tower_grid_z_up(32))
    truncated = root / "tower" / "test" / "tower_0004.binvox"
    truncated.write_bytes(truncated.read_bytes()[:-10])
    out = tmp_path / "out"
    result = prepare_dataset(ModelNetSource(root), out, SMALL, progress=False)
    assert result.split_sizes == {"train": 1, "val": 0, "test": 1}
    lines = (out / "skipped.jsonl").read_text().splitlines()
    reasons = {json.loads(line)["item_id"]: json.loads(line)["reason"] for line in lines}
    assert "not an OFF file" in reasons["tower/tower_0002"]
    assert "0 vertices and 0 faces" in reasons["tower/tower_0003"]
    assert "truncated" in reasons["tower/tower_0004"]


def test_nothing_usable_fails_clearly(tmp_path: Path) -> None:
    root = tmp_path / "ModelNetToy"
    (root / "tower" / "train").mkdir(parents=True)
    (root / "tower" / "train" / "tower_0001.off").write_text("OFF\n0 0 0\n")
    with pytest.raises(DataError, match="no usable item"):
        prepare_dataset(ModelNetSource(root), tmp_path / "out", SMALL, progress=False)
    with pytest.raises(DataError, match="no <class>/train"):
        ModelNetSource(root / "tower" / "train").classes()


def test_full_release_with_other_counts_logs_a_warning(tmp_path: Path, caplog) -> None:
    expected = MODELNET_EXPECTED["ModelNet10"]
    root = tmp_path / "ModelNet10"
    for index in range(expected.classes):
        _write_off(root / f"class{index:02d}" / "train" / "a_0001.off", _tower_z_up())
    with caplog.at_level(logging.WARNING):
        items = ModelNetSource(root).items()
    assert len(items) == expected.classes
    assert "official ModelNet10 has 3991 / 908" in caplog.text
    caplog.clear()
    partial = tmp_path / "ModelNet40"
    _write_off(partial / "desk" / "train" / "desk_0001.off", _tower_z_up())
    with caplog.at_level(logging.WARNING):
        ModelNetSource(partial).items()
    assert caplog.text == ""  # a partial copy (2 of 40 classes) is not a full release
