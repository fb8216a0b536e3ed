"""The meshes source: a folder of class folders with meshes of any supported format."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import trimesh

from switchvae.data import load_prepared
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.sources.mesh_folder import MeshFolderSource
from switchvae.errors import ConfigError, DataError

SMALL = PrepareSettings(resolution=32, num_views=2, image_size=32)
FORMATS = ("obj", "ply", "stl", "off", "glb")
PER_CLASS = 5


def _primitive(kind: str, index: int) -> trimesh.Trimesh:
    scale = 0.5 + 0.1 * index
    if kind == "box":
        return trimesh.creation.box(extents=(1.0, scale, 0.6))
    if kind == "cone":
        return trimesh.creation.cone(radius=0.4, height=1.0 + scale)
    return trimesh.creation.icosphere(subdivisions=1, radius=scale)


def make_mesh_folder(root: Path) -> Path:
    """box/, cone/, sphere/ with PER_CLASS meshes each, one format per index (nested too)."""
    for kind in ("box", "cone", "sphere"):
        for index in range(PER_CLASS):
            sub = root / kind / ("nested" if index == 0 else "")
            sub.mkdir(parents=True, exist_ok=True)
            _primitive(kind, index).export(sub / f"{kind}_{index}.{FORMATS[index]}")
    (root / "box" / "notes.txt").write_text("not a mesh")
    (root / ".cache").mkdir()
    _primitive("box", 0).export(root / ".cache" / "hidden.obj")
    return root


def test_prepares_a_mesh_folder(tmp_path: Path) -> None:
    root = make_mesh_folder(tmp_path / "meshes")
    (root / "cone" / "broken.obj").write_text("")  # an empty mesh file
    source = MeshFolderSource(root, val_fraction=0.2, test_fraction=0.2, seed=0)
    assert source.classes() == ["box", "cone", "sphere"]
    items = source.items()
    counts = Counter((i.item_id.split("/")[0], i.split) for i in items)
    for kind in ("box", "sphere"):  # 5 meshes: round(0.2 * 5) = 1 test, 1 val
        assert (counts[kind, "test"], counts[kind, "val"], counts[kind, "train"]) == (1, 1, 3)
    assert sum(counts["cone", s] for s in ("train", "val", "test")) == PER_CLASS + 1
    assert "box/nested/box_0.obj" in {i.item_id for i in items}
    out = tmp_path / "out"
    result = prepare_dataset(source, out, SMALL, progress=False)
    assert sum(result.split_sizes.values()) == 3 * PER_CLASS and result.skipped == 1
    skipped = json.loads((out / "skipped.jsonl").read_text())
    assert skipped["item_id"] == "cone/broken.obj" and "empty" in skipped["reason"]
    train = load_prepared(out, "train")
    assert train.classes == ["box", "cone", "sphere"]
    assert train.voxels(0).any() and train.views(0).shape == (2, 32, 32, 1)
    labels = [train.classes[label] for label in train.labels]
    assert labels == [i.split("/")[0] for i in train.ids]


def test_split_depends_on_seed_only(tmp_path: Path) -> None:
    root = make_mesh_folder(tmp_path / "meshes")
    first = MeshFolderSource(root, seed=5).items()
    assert first == MeshFolderSource(root, seed=5).items()
    others = [MeshFolderSource(root, val_fraction=0.2, test_fraction=0.2, seed=s).items() for s in range(4)]  # fmt: skip
    assert len({tuple(i.split for i in items) for items in others}) > 1


def test_up_axis_z_turns_meshes(tmp_path: Path) -> None:
    root = tmp_path / "meshes"
    (root / "pole").mkdir(parents=True)
    trimesh.creation.box(extents=(0.2, 0.3, 1.0)).export(root / "pole" / "pole.stl")
    grids = {}
    for up in ("y", "z"):
        source = MeshFolderSource(root, val_fraction=0.0, test_fraction=0.0, up_axis=up)
        grids[up] = source.build(source.items()[0], SMALL)[0]
    extents = {up: np.ptp(np.argwhere(g), axis=0) for up, g in grids.items()}
    assert extents["z"][1] == extents["z"].max() and extents["y"][2] == extents["y"].max()


def test_flat_folder_and_bad_arguments(tmp_path: Path) -> None:
    flat = tmp_path / "teapots"
    flat.mkdir()
    trimesh.creation.box().export(flat / "a.obj")
    assert MeshFolderSource(flat).classes() == ["teapots"]
    with pytest.raises(ConfigError, match="sum < 1"):
        MeshFolderSource(flat, val_fraction=0.5, test_fraction=0.5)
    (tmp_path / "empty" / "docs").mkdir(parents=True)
    (tmp_path / "empty" / "docs" / "readme.txt").write_text("no meshes here")
    with pytest.raises(DataError, match="no mesh files"):
        MeshFolderSource(tmp_path / "empty").classes()
    with pytest.raises(DataError, match="not found"):
        MeshFolderSource(tmp_path / "nowhere")
