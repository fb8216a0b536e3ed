"""Fast voxelizer against slow obvious references, real ModelNet meshes and trimesh."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import trimesh

from switchvae.data.geometry.mesh import MODELNET_UP, load_mesh, normalize_mesh
from switchvae.data.geometry.voxelize import (
    fill_interior,
    grid_iou,
    surface_voxels,
    voxelize_mesh,
    voxelize_points,
)
from switchvae.errors import DataError

# ----------------------------------------------------------------------------------------
# Slow obvious references
# ----------------------------------------------------------------------------------------


def _dot(u: tuple, v: tuple) -> float:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _cross(u: tuple, v: tuple) -> tuple:
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def reference_triangle_box(corners: list, center: tuple, half: float = 0.5) -> bool:
    """Separating-axis theorem: one triangle (3 points) against one closed cube, plainly."""
    p = [tuple(c - m for c, m in zip(corner, center, strict=True)) for corner in corners]
    edges = [tuple(b - a for a, b in zip(p[i], p[(i + 1) % 3], strict=True)) for i in range(3)]
    unit = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    axes = unit + [_cross(edges[0], edges[1])] + [_cross(e, f) for e in unit for f in edges]
    for axis in axes:
        projections = [_dot(axis, corner) for corner in p]
        radius = half * (abs(axis[0]) + abs(axis[1]) + abs(axis[2]))
        if min(projections) > radius or max(projections) < -radius:
            return False
    return True


def reference_surface(mesh: trimesh.Trimesh, resolution: int) -> np.ndarray:
    """Voxels (canonical frame) whose closed box meets a triangle: loops over triangles and
    the voxels i with i <= max and i + 1 >= min on every axis."""
    grid = np.zeros((resolution,) * 3, dtype=bool)
    for corners in (mesh.vertices[mesh.faces] + 0.5) * resolution:
        low = np.clip(np.ceil(corners.min(axis=0)).astype(int) - 1, 0, resolution - 1)
        high = np.clip(np.floor(corners.max(axis=0)).astype(int), 0, resolution - 1)
        points = corners.tolist()
        for index in itertools.product(*(range(a, b + 1) for a, b in zip(low, high, strict=True))):
            center = (index[0] + 0.5, index[1] + 0.5, index[2] + 0.5)
            if not grid[index] and reference_triangle_box(points, center):
                grid[index] = True
    return grid


def winding_number(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Generalized winding number (Van Oosterom-Strackee solid angles) of points (P, 3)."""
    total = np.zeros(len(points))
    for corners in mesh.vertices[mesh.faces]:
        a, b, c = (corners[i] - points for i in range(3))
        la, lb, lc = (np.linalg.norm(v, axis=1) for v in (a, b, c))
        numerator = np.einsum("ij,ij->i", a, np.cross(b, c))
        denominator = (
            la * lb * lc
            + np.einsum("ij,ij->i", a, b) * lc
            + np.einsum("ij,ij->i", b, c) * la
            + np.einsum("ij,ij->i", c, a) * lb
        )
        total += 2.0 * np.arctan2(numerator, denominator)
    return total / (4.0 * np.pi)


def voxel_centers(resolution: int) -> np.ndarray:
    """(D^3, 3) voxel centers in the canonical frame, C order over (i, j, k)."""
    index = np.stack(np.meshgrid(*[np.arange(resolution)] * 3, indexing="ij"), axis=-1)
    return (index.reshape(-1, 3) + 0.5) / resolution - 0.5


@functools.cache
def reference_solid(name: str, resolution: int) -> np.ndarray:
    """Closed mesh: surface voxels plus voxels whose center has winding number > 1/2."""
    mesh = CLOSED_SHAPES[name]()
    inside = winding_number(mesh, voxel_centers(resolution)) > 0.5
    return reference_surface(mesh, resolution) | inside.reshape((resolution,) * 3)


# ----------------------------------------------------------------------------------------
# Test shapes, placed off the voxel grid in the canonical frame (no ties on voxel faces)
# ----------------------------------------------------------------------------------------

OFF_GRID = np.array([0.0123, -0.0217, 0.0311])


def _placed(mesh: trimesh.Trimesh, size: float = 0.8, turn: bool = False) -> trimesh.Trimesh:
    mesh = mesh.copy()
    if turn:
        mesh.apply_transform(trimesh.transformations.euler_matrix(0.3, 0.5, 0.2))
    mesh.apply_translation(-mesh.bounds.mean(axis=0))
    mesh.apply_scale(size / mesh.extents.max())
    mesh.apply_translation(OFF_GRID)
    return mesh


def l_shape() -> trimesh.Trimesh:
    """An L: a tall arm along +y and a foot along +x (two overlapping boxes, one mesh)."""
    arm = trimesh.creation.box(bounds=[[0.0, 0.0, 0.0], [1.0, 4.0, 1.5]])
    foot = trimesh.creation.box(bounds=[[0.0, 0.0, 0.0], [2.5, 1.0, 1.5]])
    return trimesh.util.concatenate([arm, foot])


CLOSED_SHAPES = {
    "box": lambda: _placed(trimesh.creation.box(extents=[1.0, 0.7, 0.45])),
    "turned_box": lambda: _placed(trimesh.creation.box(extents=[1.0, 0.7, 0.45]), turn=True),
    "icosphere": lambda: _placed(trimesh.creation.icosphere(subdivisions=2)),
    "torus": lambda: _placed(trimesh.creation.torus(1.0, 0.4, 16, 8), turn=True),
    "l_shape": lambda: _placed(l_shape()),
}


@pytest.mark.parametrize("name", sorted(CLOSED_SHAPES))
@pytest.mark.parametrize("resolution", [8, 13])
def test_surface_equals_exact_reference(name: str, resolution: int) -> None:
    mesh = CLOSED_SHAPES[name]()
    fast = surface_voxels(mesh.vertices[mesh.faces], resolution)
    slow = reference_surface(mesh, resolution)
    assert fast.sum() > 0
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("name", sorted(CLOSED_SHAPES))
@pytest.mark.parametrize("fill", ["carve", "flood"])
def test_solid_matches_winding_number_reference(name: str, fill: str) -> None:
    resolution = 16
    mesh = CLOSED_SHAPES[name]()
    fast = voxelize_mesh(mesh, resolution, normalize=False, fill=fill)
    slow = reference_solid(name, resolution)
    assert slow.sum() > surface_voxels(mesh.vertices[mesh.faces], resolution).sum()
    assert grid_iou(fast, slow) >= 0.95
    # these shapes have no cavity hidden from all six axis directions: carving is exact too
    np.testing.assert_array_equal(fast, slow)


def _trimesh_grid(mesh: trimesh.Trimesh, resolution: int) -> np.ndarray:
    """trimesh's ``voxelized(pitch).fill()`` of a canonical mesh, put into the canonical grid.

    trimesh puts voxel centers on multiples of the pitch, ours at half-integers (even D), so
    the mesh is shifted by half a voxel; a scale by (1 - 1e-7) moves faces lying exactly on
    voxel faces towards the center, matching our tie rule instead of trimesh's rounding.
    """
    pitch = 1.0 / resolution
    shifted = mesh.copy()
    shifted.vertices = mesh.vertices * (1.0 - 1e-7) + pitch / 2
    centers = shifted.voxelized(pitch).fill().points - pitch / 2
    index = np.round((centers + 0.5) * resolution - 0.5).astype(int)
    grid = np.zeros((resolution,) * 3, dtype=bool)
    inside = ((index >= 0) & (index < resolution)).all(axis=1)
    grid[tuple(index[inside].T)] = True
    return grid


def test_fixture_meshes_match_trimesh(modelnet_meshes: list) -> None:
    resolution = 32
    assert modelnet_meshes
    for path in modelnet_meshes:
        mesh = load_mesh(path)
        ours = voxelize_mesh(mesh, resolution, up_axis=MODELNET_UP)
        theirs = _trimesh_grid(normalize_mesh(mesh, resolution, up_axis=MODELNET_UP), resolution)
        assert grid_iou(ours, theirs) >= 0.9, path.name


def test_fixture_surface_contains_every_sampled_point(modelnet_meshes: list) -> None:
    """Every point sampled on the surface lies in a surface voxel (no voxel missed)."""
    resolution = 32
    for path in modelnet_meshes[::3]:
        mesh = normalize_mesh(load_mesh(path), resolution, up_axis=MODELNET_UP)
        surface = surface_voxels(mesh.vertices[mesh.faces], resolution)
        points, _ = trimesh.sample.sample_surface(mesh, 20000, seed=0)
        sampled = voxelize_points(points, resolution)
        assert not (sampled & ~surface).any(), path.name
        assert surface.sum() <= 1.1 * sampled.sum(), path.name


def _box_with_hole(hole_radius: float) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """A fine closed box (canonical frame) and a copy with a disc cut out of its +z face."""
    box = _placed(trimesh.creation.box(extents=[1.0, 0.9, 0.8]))
    vertices, faces = trimesh.remesh.subdivide_to_size(box.vertices, box.faces, 0.02)
    closed = trimesh.Trimesh(vertices, faces, process=False)
    centroids = closed.triangles_center
    top = centroids[:, 2] > closed.bounds[1, 2] - 1e-9
    radial = np.linalg.norm(centroids[:, :2] - closed.bounds.mean(axis=0)[:2], axis=1)
    holed = trimesh.Trimesh(vertices, faces[~(top & (radial < hole_radius))], process=False)
    return closed, holed


def test_touching_a_voxel_is_not_passing_through_it() -> None:
    """A triangle in the plane x + y = 2 (grid units) crosses the cells (1, 0) and (0, 1)
    and only touches (0, 0) and (1, 1) at their corner line."""
    resolution = 8
    corners = np.array([[2.0, 0.0, 0.3], [0.0, 2.0, 0.3], [0.5, 1.5, 3.7]])
    surface = surface_voxels(corners[None] / resolution - 0.5, resolution)
    columns = np.argwhere(surface.any(axis=2)).tolist()
    assert columns == [[0, 1], [1, 0]]
    np.testing.assert_array_equal(np.flatnonzero(surface[0, 1]), [0, 1, 2, 3])


def test_open_box_without_crash() -> None:
    box = _placed(trimesh.creation.box(extents=[1.0, 0.9, 0.8]))
    top = box.triangles_center[:, 2] > box.bounds[1, 2] - 1e-9
    open_box = trimesh.Trimesh(box.vertices, box.faces[~top], process=False)
    resolution = 16
    grid = voxelize_mesh(open_box, resolution, normalize=False)
    surface = surface_voxels(open_box.vertices[open_box.faces], resolution)
    assert surface.sum() > 0
    assert (grid >= surface).all()
    # the missing face lets carving see every inner voxel from +z: only the five walls stay
    np.testing.assert_array_equal(grid, surface)


def test_carving_survives_a_hole_that_flood_fill_leaks_through() -> None:
    resolution = 16
    closed, holed = _box_with_hole(hole_radius=0.15)
    solid = voxelize_mesh(closed, resolution, normalize=False)
    carved = voxelize_mesh(holed, resolution, normalize=False)  # default: carve
    flooded = voxelize_mesh(holed, resolution, normalize=False, fill="flood")
    surface = surface_voxels(holed.vertices[holed.faces], resolution)
    assert surface.sum() < solid.sum()
    assert grid_iou(carved, solid) >= 0.9  # only a straight tunnel under the hole is carved
    np.testing.assert_array_equal(flooded, surface)  # flood fill leaks out of the hole


def test_output_dtype_shape_and_margin() -> None:
    for resolution in (8, 32):
        grid = voxelize_mesh(trimesh.creation.box(extents=[2.0, 1.0, 1.0]), resolution)
        assert grid.dtype == np.bool_
        assert grid.shape == (resolution,) * 3
        # longest side (x) fills exactly D - 2 voxels, one voxel of margin on each side
        occupied_x = np.flatnonzero(grid.any(axis=(1, 2)))
        np.testing.assert_array_equal(occupied_x, np.arange(1, resolution - 1))
        # a solid box: every voxel inside its index range is occupied
        ranges = [np.flatnonzero(grid.any(axis=tuple({0, 1, 2} - {a}))) for a in range(3)]
        assert grid.sum() == np.prod([len(r) for r in ranges])


@pytest.mark.parametrize("name", ["torus", "l_shape"])
def test_translated_and_scaled_copy_gives_the_same_grid(name: str) -> None:
    mesh = CLOSED_SHAPES[name]()
    moved = mesh.copy()
    moved.apply_scale(3.7)
    moved.apply_translation([10.0, -3.0, 7.25])
    np.testing.assert_array_equal(voxelize_mesh(mesh, 24), voxelize_mesh(moved, 24))


def test_fixture_mesh_is_invariant_to_translation_and_scale(modelnet_meshes: list) -> None:
    mesh = load_mesh(modelnet_meshes[-1])
    moved = mesh.copy()
    moved.apply_scale(0.013)
    moved.apply_translation([-4.0, 2.5, 100.0])
    first = voxelize_mesh(mesh, up_axis=MODELNET_UP)
    np.testing.assert_array_equal(first, voxelize_mesh(moved, up_axis=MODELNET_UP))


def _extent(grid: np.ndarray, axis: int) -> int:
    return len(np.flatnonzero(grid.any(axis=tuple({0, 1, 2} - {axis}))))


def test_l_shape_orientation() -> None:
    resolution = 16
    grid = voxelize_mesh(l_shape(), resolution)  # arm along +y, foot along +x, y up
    assert _extent(grid, 1) == resolution - 2  # the long arm spans grid index 1 (y)
    assert _extent(grid, 0) < _extent(grid, 1)
    assert _extent(grid, 2) < _extent(grid, 1)
    # the foot (bottom row, y = 1) reaches further along +x than the top of the arm
    bottom_x = np.flatnonzero(grid[:, 1, :].any(axis=1))
    top_x = np.flatnonzero(grid[:, resolution - 2, :].any(axis=1))
    assert bottom_x.min() == top_x.min()
    assert bottom_x.max() > top_x.max() + 2


def test_z_up_l_shape_ends_up_along_y() -> None:
    resolution = 16
    z_up = l_shape()
    z_up.vertices = z_up.vertices[:, [0, 2, 1]] * [1.0, -1.0, 1.0]  # arm along +z, foot +x
    grid = voxelize_mesh(z_up, resolution, up_axis="z")
    np.testing.assert_array_equal(grid, voxelize_mesh(l_shape(), resolution))


def test_clipping_without_normalization() -> None:
    big = trimesh.creation.box(extents=[1.5, 0.5, 0.5])  # sticks out of the cube along x
    grid = voxelize_mesh(big, 8, normalize=False)
    assert grid.shape == (8, 8, 8)
    assert grid[0].any() and grid[-1].any()
    far = trimesh.creation.box(extents=[0.2, 0.2, 0.2])
    far.apply_translation([5.0, 0.0, 0.0])
    assert not voxelize_mesh(far, 8, normalize=False).any()


def test_voxelize_points() -> None:
    grid = voxelize_points(np.array([[-0.49, -0.49, -0.49], [0.13, 0.22, 0.34], [2.0, 0, 0]]), 10)
    assert grid.sum() == 2
    assert grid[0, 0, 0] and grid[6, 7, 8]
    # a point on a voxel face goes to the voxel nearer the grid center
    on_faces = voxelize_points(np.array([[0.1, -0.1, 0.0]]), 10)
    assert on_faces[5, 4, 5]


def test_grid_iou() -> None:
    a = np.zeros((4, 4, 4), dtype=bool)
    b = a.copy()
    assert grid_iou(a, b) == 1.0  # both empty
    a[0, 0, :2] = True
    b[0, 0, 1:3] = True
    assert grid_iou(a, a) == 1.0
    assert grid_iou(a, b) == pytest.approx(1 / 3)
    assert grid_iou(a, ~a) == 0.0
    with pytest.raises(DataError, match="shapes differ"):
        grid_iou(a, np.zeros((2, 2, 2), dtype=bool))


def test_bad_arguments() -> None:
    box = trimesh.creation.box()
    with pytest.raises(DataError, match="fill"):
        voxelize_mesh(box, 8, fill="bogus")
    with pytest.raises(DataError, match="fill"):
        fill_interior(np.zeros((4, 4, 4), dtype=bool), method="bogus")
    with pytest.raises(DataError, match="resolution"):
        voxelize_mesh(box, 0)
    with pytest.raises(DataError, match="up_axis"):
        voxelize_mesh(box, 8, up_axis="x")
    with pytest.raises(DataError):
        voxelize_mesh(trimesh.Trimesh(vertices=np.zeros((3, 3)), faces=[[0, 1, 2]]), 8)
