"""Tests of the multi-view renderer: cameras, voxel meshes, both backends, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from switchvae.data.geometry.camera import (
    CAMERA_DISTANCE,
    RANDOM_ELEVATION_RANGE_DEG,
    camera_poses,
    pixel_rays,
    project_points,
)
from switchvae.data.geometry.mesh import MODELNET_UP, load_mesh, normalize_mesh
from switchvae.data.geometry.raster import rasterize_face_ids
from switchvae.data.geometry.render import render_views, voxels_to_mesh
from switchvae.errors import DataError

needs_embree = pytest.mark.skipif(not trimesh.ray.has_embree, reason="embreex not importable")
BACKENDS = [pytest.param("embree", marks=needs_embree), "torch"]

MIN_SILHOUETTE_IOU = 0.98
"""Backends must agree on at least this silhouette IoU per fixture mesh (measured: 1.0
up to a handful of edge pixels per 12 views)."""

MAX_MEAN_GRAY_DIFFERENCE = 2.0
"""Mean absolute gray difference allowed on pixels both backends cover (measured < 0.1)."""


def box(center: tuple[float, float, float], extents: tuple[float, float, float]) -> trimesh.Trimesh:
    """An axis-aligned box mesh."""
    return trimesh.creation.box(
        extents=extents, transform=trimesh.transformations.translation_matrix(center)
    )


def silhouette(images: np.ndarray) -> np.ndarray:
    """(V, H, W) bool object mask of (V, H, W, C) renders on a white background."""
    return (images < 255).any(axis=-1)


def extent(mask: np.ndarray) -> tuple[int, int]:
    """Rows and columns spanned by the True pixels of a (H, W) mask."""
    rows, columns = np.nonzero(mask)
    return int(np.ptp(rows)) + 1, int(np.ptp(columns)) + 1


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run the torch rasterizer on one thread: on the shared 2-core test machine, torch's
    thread pool oversubscribes the cores and the many small ops then run ~10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def canonical_fixtures(modelnet_meshes: list[Path]) -> list[tuple[str, trimesh.Trimesh]]:
    """The ModelNet fixture meshes in the canonical y-up frame."""
    return [
        (p.stem, normalize_mesh(load_mesh(p), 32, up_axis=MODELNET_UP)) for p in modelnet_meshes
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("num_views", "color"), [(1, False), (5, True), (12, False)])
def test_shape_dtype_and_levels(backend: str, num_views: int, color: bool) -> None:
    images = render_views(
        box((0, 0, 0), (0.5, 0.3, 0.4)),
        num_views,
        24,
        color=color,
        backend=backend,
        normalize=False,
    )
    assert images.shape == (num_views, 24, 24, 3 if color else 1)
    assert images.dtype == np.uint8
    assert (images[:, 0, 0] == 255).all()  # corner: background
    object_pixels = images[silhouette(images)]
    assert len(object_pixels) > 0 and object_pixels.max() <= 217


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic(backend: str) -> None:
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    first = render_views(mesh, 3, 20, backend=backend, normalize=False)
    assert np.array_equal(first, render_views(mesh, 3, 20, backend=backend, normalize=False))
    random_a = render_views(mesh, 4, 20, views="random", seed=7, backend=backend, normalize=False)
    random_b = render_views(mesh, 4, 20, views="random", seed=7, backend=backend, normalize=False)
    random_c = render_views(mesh, 4, 20, views="random", seed=8, backend=backend, normalize=False)
    assert np.array_equal(random_a, random_b) and not np.array_equal(random_a, random_c)


def test_ring_cameras() -> None:
    poses = camera_poses(12)
    rotation, position = poses[:, :3, :3], poses[:, :3, 3]
    assert np.allclose(rotation @ rotation.transpose(0, 2, 1), np.eye(3))
    assert np.allclose(np.linalg.det(rotation), 1.0)
    assert np.allclose(np.linalg.norm(position, axis=1), CAMERA_DISTANCE)
    # Looking at the origin along -z, elevated 30 degrees, image up tilted towards +y.
    assert np.allclose(-rotation[:, :, 2], -position / CAMERA_DISTANCE)
    assert np.allclose(np.degrees(np.arcsin(position[:, 1] / CAMERA_DISTANCE)), 30.0)
    assert (rotation[:, 1, 1] > 0).all()
    # View 0 on +z (front), view 3 on +x: counter-clockwise seen from above.
    assert position[0, 0] == pytest.approx(0.0, abs=1e-12) and position[0, 2] > 0
    assert position[3, 0] > 0 and position[3, 2] == pytest.approx(0.0, abs=1e-12)


def test_random_cameras() -> None:
    poses = camera_poses(50, views="random", seed=3)
    assert np.array_equal(poses, camera_poses(50, views="random", seed=3))
    elevation = np.degrees(np.arcsin(poses[:, 1, 3] / CAMERA_DISTANCE))
    low, high = RANDOM_ELEVATION_RANGE_DEG
    assert elevation.min() >= low - 1e-9 and elevation.max() <= high + 1e-9
    azimuth = np.degrees(np.arctan2(poses[:, 0, 3], poses[:, 2, 3])) % 360
    assert np.ptp(azimuth) > 180  # spread around the shape


def test_projection_matches_pixel_rays() -> None:
    poses = camera_poses(3, views="random", seed=0)
    origins, directions = pixel_rays(poses, 8)
    # A point on the ray through pixel (row 2, column 5) projects to that pixel center.
    point = origins[1, 2 * 8 + 5] + 2.5 * directions[1, 2 * 8 + 5]
    projected = project_points(point[None], poses[1:2], 8)[0, 0]
    assert np.allclose(projected, [5.0, 2.0, 2.5])


@needs_embree
def test_backends_agree_on_fixtures(canonical_fixtures: list[tuple[str, trimesh.Trimesh]]) -> None:
    for name, mesh in canonical_fixtures:
        embree = render_views(mesh, 12, 64, backend="embree", normalize=False)[..., 0].astype(int)
        raster = render_views(mesh, 12, 64, backend="torch", normalize=False)[..., 0].astype(int)
        covered_embree, covered_raster = embree < 255, raster < 255
        both = covered_embree & covered_raster
        iou = both.sum() / (covered_embree | covered_raster).sum()
        assert iou >= MIN_SILHOUETTE_IOU, name
        assert np.abs(embree[both] - raster[both]).mean() <= MAX_MEAN_GRAY_DIFFERENCE, name


@needs_embree
def test_backends_agree_in_color(canonical_fixtures: list[tuple[str, trimesh.Trimesh]]) -> None:
    mesh = canonical_fixtures[0][1]
    embree = render_views(mesh, 4, 48, color=True, backend="embree", normalize=False).astype(int)
    raster = render_views(mesh, 4, 48, color=True, backend="torch", normalize=False).astype(int)
    assert np.abs(embree - raster).mean() <= MAX_MEAN_GRAY_DIFFERENCE


def square(normal_axis: int) -> trimesh.Trimesh:
    """An open, one-sided square of side 0.6 through the origin, normal along +axis."""
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]]) * 0.6 - 0.3
    vertices = np.zeros((4, 3))
    vertices[:, [(normal_axis + 1) % 3, (normal_axis + 2) % 3]] = corners
    return trimesh.Trimesh(vertices, [[0, 1, 2], [0, 2, 3]], process=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_open_mesh_is_lit_from_both_sides(backend: str) -> None:
    images = render_views(
        square(2), 12, 32, backend=backend, normalize=False
    )  # faces +z: view 0 front, 6 back
    front, back = images[0][silhouette(images[[0]])[0]], images[6][silhouette(images[[6]])[0]]
    assert len(front) > 50 and np.array_equal(np.unique(front), np.unique(back))
    assert front.min() > 64  # lit, not only ambient (0.25 * 255)


@pytest.mark.parametrize("backend", BACKENDS)
def test_color_follows_world_normal(backend: str) -> None:
    for axis, view in [(0, 3), (1, 0), (2, 0)]:  # +x seen from view 3, +y and +z from view 0
        image = render_views(square(axis), 12, 32, color=True, backend=backend, normalize=False)[
            view
        ]
        pixels = image[silhouette(image[None])[0]].astype(int)
        assert len(pixels) > 20
        assert (pixels.argmax(axis=1) == axis).all()


def _reference_face_ids(mesh: trimesh.Trimesh, poses: np.ndarray, size: int) -> np.ndarray:
    """Slow obvious version: intersect every pixel ray with every triangle (Moller-Trumbore)."""
    origins, directions = pixel_rays(poses, size)
    corner0, corner1, corner2 = (mesh.triangles[:, k] for k in range(3))
    edge1, edge2 = corner1 - corner0, corner2 - corner0
    rays_o, rays_d = origins.reshape(-1, 1, 3), directions.reshape(-1, 1, 3)
    p = np.cross(rays_d, edge2)
    det = (edge1 * p).sum(-1)
    safe = np.where(np.abs(det) < 1e-12, np.nan, det)
    t_vec = rays_o - corner0
    u = (t_vec * p).sum(-1) / safe
    q = np.cross(t_vec, edge1)
    v = (rays_d * q).sum(-1) / safe
    t = (edge2 * q).sum(-1) / safe
    hit = (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    t = np.where(hit, t, np.inf)
    return np.where(hit.any(1), t.argmin(1), -1).reshape(len(poses), size * size)


def test_rasterizer_matches_slow_reference() -> None:
    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.45)
    mesh.vertices[:, 1] *= 0.6  # not symmetric under every axis swap
    poses = camera_poses(3, views="random", seed=1)
    expected = _reference_face_ids(mesh, poses, 24)
    projected = torch.from_numpy(project_points(mesh.vertices, poses, 24))
    got = rasterize_face_ids(projected, torch.from_numpy(mesh.faces.astype(np.int64)), 24).numpy()
    assert np.array_equal(got >= 0, expected >= 0)
    assert (got == expected).mean() >= 0.99  # only pixel centers on shared edges may differ


def test_voxels_to_mesh_matches_slow_count() -> None:
    grid = np.random.default_rng(0).random((6, 6, 6)) < 0.4
    mesh = voxels_to_mesh(grid)
    padded = np.pad(grid, 1)
    exposed = 0
    for i, j, k in np.argwhere(grid) + 1:
        for di, dj, dk in [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]:
            exposed += not padded[i + di, j + dj, k + dk]
    assert len(mesh.faces) == 2 * exposed
    assert mesh.volume == pytest.approx(grid.sum() / 6**3)  # closed, outward normals
    assert np.allclose(np.round((mesh.vertices + 0.5) * 6), (mesh.vertices + 0.5) * 6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_voxel_is_a_centered_square_blob(backend: str) -> None:
    grid = np.zeros((5, 5, 5), dtype=bool)
    grid[2, 2, 2] = True  # the center voxel spans [-0.1, 0.1]^3
    mask = silhouette(render_views(grid, 4, 64, backend=backend, resolution=5))
    for view in mask:
        rows, columns = np.nonzero(view)
        assert 20 <= view.sum() <= 200
        assert abs(rows.mean() - 31.5) <= 1.5 and abs(columns.mean() - 31.5) <= 1.5
        height, width = extent(view)
        assert 0.7 <= height / width <= 1.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_voxel_column_along_y_is_tall(backend: str) -> None:
    grid = np.zeros((8, 8, 8), dtype=np.uint8)
    grid[3, :, 4] = 1
    for view in silhouette(render_views(grid, 12, 48, backend=backend, resolution=8)):
        height, width = extent(view)
        assert height > 2 * width


@pytest.mark.parametrize("backend", BACKENDS)
def test_orientation(backend: str) -> None:
    tall = box((0, 0, 0), (0.15, 0.9, 0.25))
    for view in silhouette(render_views(tall, 12, 48, backend=backend, normalize=False)):
        height, width = extent(view)
        assert height > width
    # View 0 looks from +z: world +x is image right, +y is image up.
    right = silhouette(
        render_views(box((0.35, 0, 0), (0.1, 0.1, 0.1)), 12, 48, backend=backend, normalize=False)
    )
    assert np.nonzero(right[0])[1].mean() > 30 and np.nonzero(right[6])[1].mean() < 18
    up = silhouette(
        render_views(box((0, 0.35, 0), (0.1, 0.1, 0.1)), 1, 48, backend=backend, normalize=False)
    )
    assert np.nonzero(up[0])[0].mean() < 18
    # Counter-clockwise seen from above: view 3 looks from +x, so world -z is image right.
    back = silhouette(
        render_views(box((0, 0, -0.35), (0.1, 0.1, 0.1)), 12, 48, backend=backend, normalize=False)
    )
    assert np.nonzero(back[3])[1].mean() > 30


def test_auto_falls_back_to_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    mesh = box((0.1, 0, 0), (0.3, 0.5, 0.2))
    expected = render_views(mesh, 2, 16, backend="torch", normalize=False)
    monkeypatch.setattr(trimesh.ray, "has_embree", False)
    assert np.array_equal(render_views(mesh, 2, 16, backend="auto", normalize=False), expected)
    with pytest.raises(DataError, match="embreex"):
        render_views(mesh, 2, 16, backend="embree", normalize=False)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"backend": "opengl"}, "unknown render backend"),
        ({"num_views": 0}, "num_views"),
        ({"num_views": 2.5}, "num_views"),
        ({"num_views": True}, "num_views"),
        ({"image_size": 0}, "image_size"),
        ({"views": "spiral"}, "unknown views"),
        ({"elevation_deg": 90.0}, "elevation_deg"),
    ],
)
def test_bad_arguments(arguments: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        render_views(box((0, 0, 0), (0.2, 0.2, 0.2)), **arguments, normalize=False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((32, 32, 32), dtype=bool), "empty voxel grid"),
        (np.ones((32, 32, 16), dtype=bool), "expected a cube"),
        (np.full((32, 32, 32), 0.7), "other than 0 and 1"),
        (np.ones((16, 16, 16), dtype=bool), "resolution=32"),
        (trimesh.Trimesh(), "no faces"),
        (
            trimesh.Trimesh([[0, 0, 0], [np.nan, 0, 0], [0, 0.1, 0]], [[0, 1, 2]], process=False),
            "non-finite",
        ),
        (box((0, 0, 0), (2.0, 1.0, 1.0)), "outside the canonical cube"),
        ([[0, 1]], "cannot render a list"),
    ],
)
def test_bad_inputs(data: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        render_views(data, normalize=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_raw_mesh_is_normalized_like_voxelize_mesh(backend: str) -> None:
    raw = box((3.0, -2.0, 5.0), (4.0, 1.0, 2.0))  # far from the origin, larger than the cube
    canonical = normalize_mesh(raw, 32)
    images = render_views(raw, 4, 32, backend=backend)
    assert np.array_equal(images, render_views(canonical, 4, 32, backend=backend, normalize=False))
    z_up = normalize_mesh(raw, 32, up_axis="z")
    assert np.array_equal(
        render_views(raw, 4, 32, backend=backend, up_axis="z"),
        render_views(z_up, 4, 32, backend=backend, normalize=False),
    )
    with pytest.raises(DataError, match="outside the canonical cube"):
        render_views(raw, 4, 32, backend=backend, normalize=False)
