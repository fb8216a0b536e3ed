"""3D-R2N2 layout helpers, and the ShapeNetVox32 orientation pinned against the real renders.

Orientation numbers measured on the 6 fixture chairs (all 24 views, alpha > 0 as the mask):
per-view silhouette IoU of the canonical grid 0.79..0.97 (per-chair means 0.83..0.96); among
the 48 signed axis permutations the chosen one scores 0.898 on the views used below, its
mirror about the chairs' left-right symmetry plane (z) 0.896, every other one <= 0.63.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from switchvae.data.geometry.binvox import read_binvox
from switchvae.data.sources import r2n2, r2n2_camera
from switchvae.errors import DataError

CHAIR = "03001627"
VIEW_IOU_MIN = 0.75  # measured minimum over all 6 x 24 views: 0.787
OTHER_ORIENTATION_MARGIN = 0.2  # measured: 0.898 (chosen) vs 0.624 (best non-mirror)
SEARCH_VIEWS = [0, 4, 8, 12, 16, 20]
ASYMMETRIC_CHAIR = "1a74a83fa6d24b3cacd67ce2c72c02e"  # least left-right symmetric (IoU 0.93)


def _model_ids(root: Path) -> list[str]:
    ids = sorted(p.name for p in (root / "ShapeNetVox32" / CHAIR).iterdir())
    assert len(ids) == 6
    return ids


def _render_dir(root: Path, model_id: str) -> Path:
    return root / "ShapeNetRendering" / CHAIR / model_id / "rendering"


def _raw_grid(root: Path, model_id: str) -> np.ndarray:
    return read_binvox(root / "ShapeNetVox32" / CHAIR / model_id / "model.binvox")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _signed_permutations():
    for axes in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            yield axes, flips


def _orient(grid: np.ndarray, axes, flips) -> np.ndarray:
    return np.flip(np.transpose(grid, axes), tuple(i for i, f in enumerate(flips) if f))


def _silhouette_iou(grid, metadata, renders, views, samples_per_axis=3) -> list[float]:
    return [
        _iou(
            r2n2_camera.project_voxels_to_view(
                grid, metadata[v], samples_per_axis=samples_per_axis
            ),
            renders[k, ..., 3] > 0,
        )
        for k, v in enumerate(views)
    ]


# --- split file -------------------------------------------------------------------------


def test_split_file_and_categories(r2n2_root: Path) -> None:
    splits = r2n2.read_split_file(r2n2_root / "ShapeNet.json")
    assert {s.taxonomy_id: s.taxonomy_name for s in splits} == r2n2.R2N2_CATEGORIES
    assert len(splits) == 13
    chair = next(s for s in splits if s.taxonomy_id == CHAIR)
    where = [
        name
        for m in _model_ids(r2n2_root)
        for name in r2n2.SPLIT_NAMES
        if m in getattr(chair, name)
    ]
    assert sorted(where) == ["test", "test", "test", "test", "train", "val"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "JSON"),
        ("{}", "non-empty JSON list"),
        ('[{"taxonomy_id": "1", "taxonomy_name": "a", "train": [], "val": []}]', "'test'"),
        (
            '[{"taxonomy_id": 1, "taxonomy_name": "a", "train": [], "val": [], "test": []}]',
            "strings",
        ),
        (
            '[{"taxonomy_id": "1", "taxonomy_name": "a", "train": [3], "val": [], "test": []}]',
            "train",
        ),
        ('["chair"]', "expected an object"),
    ],
)
def test_bad_split_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "ShapeNet.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        r2n2.read_split_file(path)
    assert str(path) in str(info.value)


def test_duplicate_category_and_missing_split_file(tmp_path: Path) -> None:
    entry = {"taxonomy_id": "1", "taxonomy_name": "a", "train": [], "val": [], "test": []}
    path = tmp_path / "ShapeNet.json"
    path.write_text(json.dumps([entry, entry]))
    with pytest.raises(DataError, match="more than once"):
        r2n2.read_split_file(path)
    with pytest.raises(DataError, match="not found"):
        r2n2.read_split_file(tmp_path / "missing.json")


# --- metadata and renders ---------------------------------------------------------------


def test_rendering_metadata(r2n2_root: Path) -> None:
    for model_id in _model_ids(r2n2_root):
        meta = r2n2.read_rendering_metadata(
            _render_dir(r2n2_root, model_id) / "rendering_metadata.txt"
        )
        assert meta.shape == (24, 5)
        assert np.all((meta[:, 0] >= 0) & (meta[:, 0] < 360))
        assert np.all((meta[:, 1] >= 25) & (meta[:, 1] <= 30))
        assert np.all(meta[:, 2] == 0) and np.all(meta[:, 4] == 25)
        assert np.all((meta[:, 3] > 0.6) & (meta[:, 3] < 1.0))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["1 2 0 0.8 25"] * 23, "24 rows"),
        (["1 2 0 0.8"] * 24, "24 rows"),
        (["a b c d e"] * 24, "parse"),
        (["1 2 0 0 25"] * 24, "positive"),
    ],
)
def test_bad_metadata(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "rendering_metadata.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message) as info:
        r2n2.read_rendering_metadata(path)
    assert str(path) in str(info.value)
    with pytest.raises(DataError, match="not found"):
        r2n2.read_rendering_metadata(tmp_path / "missing.txt")


def test_read_renderings(r2n2_root: Path) -> None:
    render_dir = _render_dir(r2n2_root, _model_ids(r2n2_root)[0])
    views = r2n2.read_renderings(render_dir)
    assert views.shape == (24, 137, 137, 4) and views.dtype == np.uint8
    assert 0.02 < (views[..., 3] > 0).mean() < 0.6  # an object on a transparent background
    assert (views[:, 0, 0, 3] == 0).all()
    np.testing.assert_array_equal(r2n2.read_renderings(render_dir, [5, 0]), views[[5, 0]])


def test_bad_renderings(r2n2_root: Path, tmp_path: Path) -> None:
    render_dir = tmp_path / "rendering"
    shutil.copytree(_render_dir(r2n2_root, _model_ids(r2n2_root)[0]), render_dir)
    with pytest.raises(DataError, match="0..23"):
        r2n2.read_renderings(render_dir, [24])
    (render_dir / "03.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="corrupt") as info:
        r2n2.read_renderings(render_dir, [2, 3])
    assert "03.png" in str(info.value)
    png = (render_dir / "04.png").read_bytes()
    (render_dir / "04.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(DataError, match="04.png"):
        r2n2.read_renderings(render_dir, [4])
    (render_dir / "05.png").unlink()
    with pytest.raises(DataError, match="not found"):
        r2n2.read_renderings(render_dir, [5])
    Image.new("RGBA", (64, 64)).save(render_dir / "06.png")
    with pytest.raises(DataError, match="137x137"):
        r2n2.read_renderings(render_dir, [6])


def test_composite_background() -> None:
    rgba = np.array([[[10, 20, 30, 0], [10, 20, 30, 255], [100, 100, 100, 128]]], dtype=np.uint8)
    out = r2n2.composite_background(rgba, [r2n2.EVAL_BACKGROUND_GRAY] * 3)
    assert out.dtype == np.uint8 and out.shape == (1, 3, 3)
    assert out[0, 0].tolist() == [240, 240, 240] and out[0, 1].tolist() == [10, 20, 30]
    assert out[0, 2].tolist() == [170, 170, 170]  # 100 * 128/255 + 240 * 127/255
    per_view = np.array([[[[0, 0, 0]]], [[[255, 255, 255]]]])  # (V=2, 1, 1, 3)
    two = r2n2.composite_background(np.stack([rgba, rgba]), per_view)
    assert two[0, 0, 0].tolist() == [0, 0, 0] and two[1, 0, 0].tolist() == [255, 255, 255]
    with pytest.raises(DataError):
        r2n2.composite_background(rgba[..., :3], [0, 0, 0])
    colors = np.stack([r2n2.random_background_color(np.random.default_rng(s)) for s in range(50)])
    assert colors.min() >= 225 and colors.max() <= 255 and len(np.unique(colors)) > 5


# --- orientation ------------------------------------------------------------------------


def test_canonical_grid_matches_every_render(r2n2_root: Path) -> None:
    """Projected canonical voxels overlap the render's alpha mask in all 24 views."""
    for model_id in _model_ids(r2n2_root):
        render_dir = _render_dir(r2n2_root, model_id)
        grid = r2n2.shapenetvox32_to_canonical(_raw_grid(r2n2_root, model_id))
        meta = r2n2.read_rendering_metadata(render_dir / "rendering_metadata.txt")
        ious = _silhouette_iou(grid, meta, r2n2.read_renderings(render_dir), range(24))
        assert min(ious) >= VIEW_IOU_MIN, (model_id, np.round(ious, 3))


def test_chosen_orientation_is_best_of_48(r2n2_root: Path) -> None:
    """Among all signed axis permutations of the raw grid, the chosen one fits the renders
    best; only its mirror about the chairs' symmetry plane comes close."""
    data = []
    for model_id in _model_ids(r2n2_root):
        render_dir = _render_dir(r2n2_root, model_id)
        meta = r2n2.read_rendering_metadata(render_dir / "rendering_metadata.txt")
        data.append(
            (_raw_grid(r2n2_root, model_id), meta, r2n2.read_renderings(render_dir, SEARCH_VIEWS))
        )
    scores = {}
    for axes, flips in _signed_permutations():
        ious = [
            _silhouette_iou(_orient(grid, axes, flips), meta, renders, SEARCH_VIEWS, 2)
            for grid, meta, renders in data
        ]
        scores[axes, flips] = float(np.mean(ious))
    chosen = (r2n2.SHAPENETVOX32_AXES, r2n2.SHAPENETVOX32_FLIPS)
    assert max(scores, key=scores.get) == chosen
    mirror = (chosen[0], (chosen[1][0], chosen[1][1], not chosen[1][2]))
    others = [s for key, s in scores.items() if key not in (chosen, mirror)]
    assert scores[chosen] - max(others) >= OTHER_ORIENTATION_MARGIN


def test_mirror_is_told_apart_on_the_asymmetric_chair(r2n2_root: Path) -> None:
    render_dir = _render_dir(r2n2_root, ASYMMETRIC_CHAIR)
    meta = r2n2.read_rendering_metadata(render_dir / "rendering_metadata.txt")
    renders = r2n2.read_renderings(render_dir)
    grid = r2n2.shapenetvox32_to_canonical(_raw_grid(r2n2_root, ASYMMETRIC_CHAIR))
    chosen = np.mean(_silhouette_iou(grid, meta, renders, range(24)))
    mirrored = np.mean(_silhouette_iou(grid[:, :, ::-1], meta, renders, range(24)))
    assert chosen > mirrored


def test_canonical_chairs_stand_upright(r2n2_root: Path) -> None:
    """y is up: the top quarter (backrest) is thinner front-to-back (x) than the bottom
    quarter (legs/base); z is left-right: chairs are mirror-symmetric about z only."""
    for model_id in _model_ids(r2n2_root):
        grid = r2n2.shapenetvox32_to_canonical(_raw_grid(r2n2_root, model_id))
        layers = np.flatnonzero(grid.any(axis=(0, 2)))
        quarter = (layers[-1] - layers[0] + 1) // 4
        top = grid[:, layers[-1] - quarter + 1 : layers[-1] + 1]
        bottom = grid[:, layers[0] : layers[0] + quarter]

        def x_extent(part: np.ndarray) -> int:
            xs = np.flatnonzero(part.any(axis=(1, 2)))
            return int(xs[-1] - xs[0] + 1)

        assert x_extent(top) <= 0.85 * x_extent(bottom), model_id
        mirror_iou = [_iou(grid, np.flip(grid, axis)) for axis in range(3)]
        assert mirror_iou[2] >= 0.9 and mirror_iou[2] > max(mirror_iou[:2]), model_id


def test_projection_input_checks() -> None:
    meta = np.array([0.0, 30.0, 0.0, 0.8, 25.0])
    assert not r2n2_camera.project_voxels_to_view(np.zeros((8, 8, 8), bool), meta).any()
    mask = r2n2_camera.project_voxels_to_view(np.ones((8, 8, 8), bool), meta, image_size=64)
    assert mask.shape == (64, 64) and mask[32, 32] and not mask[0, 0]
    with pytest.raises(DataError, match="cubic"):
        r2n2_camera.project_voxels_to_view(np.ones((8, 8, 4), bool), meta)
    with pytest.raises(DataError, match="in-plane"):
        r2n2_camera.project_voxels_to_view(
            np.ones((8, 8, 8), bool), np.array([0, 30, 5, 0.8, 25.0])
        )
