"""Mesh loading (real ModelNet OFF files, the malformed header, bad files) and normalization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from switchvae.data.geometry.mesh import (
    CANONICAL_UP,
    MODELNET_UP,
    SHAPENET_UP,
    _repair_off_header,
    check_mesh,
    load_mesh,
    normalize_mesh,
)
from switchvae.errors import DataError

TRIANGLE_OFF = "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"


def test_up_axis_constants() -> None:
    assert (CANONICAL_UP, MODELNET_UP, SHAPENET_UP) == ("y", "z", "y")


def test_loads_every_fixture_off(modelnet_meshes: list[Path]) -> None:
    assert len(modelnet_meshes) >= 10
    for path in modelnet_meshes:
        mesh = load_mesh(path)
        header = path.read_text().split()
        assert header[0] == "OFF"
        assert len(mesh.vertices) == int(header[1]), path.name
        assert len(mesh.faces) >= int(header[2]), path.name  # polygons become triangles
        assert np.isfinite(mesh.vertices).all()
        assert mesh.area > 0


def test_malformed_modelnet_header_is_repaired_in_memory(
    modelnet_meshes: list[Path], tmp_path: Path
) -> None:
    good = modelnet_meshes[0]
    text = good.read_text()
    assert text.startswith("OFF\n")
    broken = tmp_path / "broken.off"
    broken.write_text("OFF" + text[len("OFF\n") :])  # e.g. "OFF3514 3546 0" then vertices
    assert broken.read_text().splitlines()[0].startswith("OFF") and broken.read_text()[3].isdigit()
    before = broken.read_bytes()
    repaired, reference = load_mesh(broken), load_mesh(good)
    np.testing.assert_array_equal(repaired.vertices, reference.vertices)
    np.testing.assert_array_equal(repaired.faces, reference.faces)
    assert broken.read_bytes() == before  # the file is not modified


def test_header_repair_itself() -> None:
    """The repair does not rely on trimesh's parser tolerating the glued header."""
    assert _repair_off_header(b"OFF490 518 0\n1 2 3\n") == b"OFF\n490 518 0\n1 2 3\n"
    assert _repair_off_header(b"OFF\n490 518 0\n") == b"OFF\n490 518 0\n"
    assert _repair_off_header(b"COFF3 1 0\n") == b"COFF\n3 1 0\n"


def test_small_malformed_header(tmp_path: Path) -> None:
    path = tmp_path / "glued.off"
    path.write_text(TRIANGLE_OFF.replace("OFF\n", "OFF"))
    mesh = load_mesh(path)
    assert mesh.vertices.shape == (3, 3) and mesh.faces.tolist() == [[0, 1, 2]]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.off", "", "empty"),
        ("blank.off", "  \n\n", "empty"),
        ("no_faces.off", "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "0 faces"),
        ("nan.off", TRIANGLE_OFF.replace("1 0 0\n", "nan 0 0\n"), "non-finite"),
        ("inf.off", TRIANGLE_OFF.replace("1 0 0\n", "1 inf 0\n"), "non-finite"),
        ("flat.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n", "zero area"),
        ("point.off", "OFF\n3 1 0\n1 1 1\n1 1 1\n1 1 1\n3 0 1 2\n", "same point"),
        ("not_off.off", "PLY\n3 1 0\n", "not an OFF"),
        ("short.off", "OFF\n3 1 0\n0 0 0\n", "cannot parse"),
        ("bad_index.off", TRIANGLE_OFF.replace("3 0 1 2", "3 0 1 9"), "cannot parse"),
        ("garbage.ply", "not a ply file\n", "cannot parse"),
        ("model.xyz", "1 2 3\n", "unknown mesh format"),
    ],
)
def test_bad_files_raise_data_error_naming_the_file(
    tmp_path: Path, name: str, content: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=problem) as caught:
        load_mesh(path)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "chair.off"
    with pytest.raises(DataError, match="not found") as caught:
        load_mesh(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("file_type", ["obj", "ply", "stl", "glb", "gltf"])
def test_other_formats(tmp_path: Path, file_type: str) -> None:
    box = trimesh.creation.box(extents=[1.0, 2.0, 3.0])
    path = tmp_path / f"box.{file_type}"
    box.export(path)
    mesh = load_mesh(path)
    assert isinstance(mesh, trimesh.Trimesh)
    np.testing.assert_allclose(mesh.bounds, box.bounds, atol=1e-6)
    assert mesh.area == pytest.approx(box.area)


def test_scene_is_concatenated(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
    sphere = trimesh.creation.icosphere(subdivisions=1, radius=0.5)
    sphere.apply_translation([3.0, 0.0, 0.0])
    path = tmp_path / "scene.glb"
    trimesh.Scene([box, sphere]).export(path)
    mesh = load_mesh(path)
    assert len(mesh.faces) == len(box.faces) + len(sphere.faces)
    np.testing.assert_allclose(mesh.bounds, [[-0.5, -0.5, -0.5], [3.5, 0.5, 0.5]], atol=1e-6)


def test_check_mesh_names_the_source() -> None:
    with pytest.raises(DataError, match="my_source"):
        check_mesh(trimesh.Trimesh(), source="my_source")
    with pytest.raises(DataError, match="triangle mesh"):
        check_mesh(trimesh.PointCloud(np.ones((4, 3))))


@pytest.mark.parametrize("resolution", [32, 16])
def test_normalize_centers_and_scales(modelnet_meshes: list[Path], resolution: int) -> None:
    mesh = load_mesh(modelnet_meshes[-1])
    before = mesh.vertices.copy()
    normalized = normalize_mesh(mesh, resolution)
    low, high = normalized.bounds
    np.testing.assert_allclose((low + high) / 2, 0.0, atol=1e-12)
    assert (high - low).max() == pytest.approx((resolution - 2) / resolution)
    np.testing.assert_array_equal(mesh.vertices, before)  # input untouched
    np.testing.assert_array_equal(normalized.faces, mesh.faces)


def test_normalize_ignores_unused_vertices() -> None:
    box = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
    stray = np.vstack([box.vertices, [[100.0, 0.0, 0.0]]])
    normalized = normalize_mesh(trimesh.Trimesh(stray, box.faces, process=False), 32)
    used = normalized.vertices[: len(box.vertices)]
    np.testing.assert_allclose(used.min(axis=0), -15 / 32)
    np.testing.assert_allclose(used.max(axis=0), 15 / 32)


def _tall_z_box_with_marker() -> trimesh.Trimesh:
    """A box tall along z (extents 1, 2, 4) and a marker vertex sticking out along +x."""
    box = trimesh.creation.box(extents=[1.0, 2.0, 4.0])
    marker = trimesh.Trimesh(
        vertices=[[1.5, 0.0, 0.0], [0.5, 0.2, 0.0], [0.5, 0.0, 0.2]], faces=[[0, 1, 2]]
    )
    return trimesh.util.concatenate([box, marker])


def test_z_up_conversion_pinned() -> None:
    mesh = _tall_z_box_with_marker()
    marker = len(mesh.vertices) - 3
    normalized = normalize_mesh(mesh, 32, up_axis=MODELNET_UP)
    extents = normalized.extents
    assert extents[1] == pytest.approx(30 / 32)  # tall in y now
    assert extents[1] > extents[2] > extents[0] * 0.99  # old y (2) became z
    assert normalized.vertices[marker, 0] == pytest.approx(normalized.bounds[1, 0])  # +x stays +x
    # exact map: x' = x, y' = z, z' = -y (then center and scale)
    scale = (30 / 32) / 4.0
    center = (mesh.bounds[0] + mesh.bounds[1]) / 2
    expected = (mesh.vertices - center)[:, [0, 2, 1]] * [scale, scale, -scale]
    np.testing.assert_allclose(normalized.vertices, expected, atol=1e-12)
    # a rotation, not a mirror: a closed box keeps its positive signed volume
    box = trimesh.creation.box(extents=[1.0, 2.0, 4.0])
    assert normalize_mesh(box, 32, up_axis="z").volume > 0


def test_y_up_is_left_alone_apart_from_scale() -> None:
    mesh = _tall_z_box_with_marker()
    normalized = normalize_mesh(mesh, 32, up_axis=SHAPENET_UP)
    assert normalized.extents[2] == pytest.approx(30 / 32)  # still tall in z


@pytest.mark.parametrize(
    ("vertices", "problem"),
    [
        (np.zeros((3, 3)), "same point"),
        ([[0, 0, 0], [1, 0, 0], [np.nan, 0, 0]], "non-finite"),
        ([[0, 0, 0], [1, 0, 0], [2, 0, 0]], "zero area"),
    ],
)
def test_normalize_rejects_degenerate_meshes(vertices: list, problem: str) -> None:
    mesh = trimesh.Trimesh(vertices=np.array(vertices, float), faces=[[0, 1, 2]], process=False)
    with pytest.raises(DataError, match=problem):
        normalize_mesh(mesh)


def test_normalize_rejects_bad_arguments() -> None:
    box = trimesh.creation.box()
    with pytest.raises(DataError, match="up_axis"):
        normalize_mesh(box, up_axis="x")
    with pytest.raises(DataError, match="resolution"):
        normalize_mesh(box, resolution=2)
    with pytest.raises(DataError, match="faces"):
        normalize_mesh(trimesh.Trimesh(vertices=np.eye(3), faces=np.zeros((0, 3), int)))
