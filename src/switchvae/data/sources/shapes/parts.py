"""Part library of the procedural shape set: primitives placed in the canonical frame.

Every helper returns one ``trimesh.Trimesh`` (or a list of them) in object units (metres),
y up, front towards +z. Parts may overlap; the voxelizer fills their union. The class
generators in the sibling modules assemble these parts with random proportions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh

ROUND_SECTIONS = 20
"""Facets around a revolved part: plenty for a 32³ grid, cheap to voxelize."""

THIN_SECTIONS = 8
"""Facets around a thin rod (legs, poles, handles): they are about one voxel wide."""

_Z_TO_Y = trimesh.transformations.rotation_matrix(-np.pi / 2, [1.0, 0.0, 0.0])
"""Rotation taking trimesh's default +z primitive axis to the canonical +y (up) axis."""

Point = Sequence[float]


def box(size: Point, center: Point) -> trimesh.Trimesh:
    """Axis-aligned box.

    Args:
        size: (3,) extents along x, y, z.
        center: (3,) centre.

    Returns:
        Closed box mesh.
    """
    mesh = trimesh.creation.box(extents=np.asarray(size, dtype=float))
    mesh.apply_translation(np.asarray(center, dtype=float))
    return mesh


def block(x: Point, y: Point, z: Point) -> trimesh.Trimesh:
    """Axis-aligned box given by its (min, max) interval on each axis.

    Args:
        x: (2,) interval on x.
        y: (2,) interval on y.
        z: (2,) interval on z.

    Returns:
        Closed box mesh.
    """
    lo = np.array([x[0], y[0], z[0]], dtype=float)
    hi = np.array([x[1], y[1], z[1]], dtype=float)
    return box(hi - lo, (lo + hi) / 2)


def rod(start: Point, end: Point, radius: float, sections: int = THIN_SECTIONS) -> trimesh.Trimesh:
    """Cylinder between two points (legs, poles, stretchers, wheels).

    Args:
        start: (3,) centre of one end cap.
        end: (3,) centre of the other end cap.
        radius: cylinder radius.
        sections: facets around the axis.

    Returns:
        Closed cylinder mesh.
    """
    segment = np.array([start, end], dtype=float)
    return trimesh.creation.cylinder(radius=radius, segment=segment, sections=sections)


def hull(points: np.ndarray) -> trimesh.Trimesh:
    """Convex hull of points: slanted panels, wings, car cabins.

    Args:
        points: (N, 3) points, N >= 4 and not coplanar.

    Returns:
        Closed convex mesh.
    """
    return trimesh.convex.convex_hull(np.asarray(points, dtype=float))


def slab(x: Point, y: Point, z: float, thickness: float, lean: float = 0.0) -> trimesh.Trimesh:
    """Upright panel in the x-y plane whose top edge is shifted by ``lean`` along z.

    Args:
        x: (2,) interval on x.
        y: (2,) interval on y (bottom, top).
        z: z of the panel's bottom centre line.
        thickness: panel thickness along z.
        lean: z offset of the top edge relative to the bottom (negative leans backwards).

    Returns:
        Closed convex panel mesh.
    """
    half = thickness / 2
    corners = [
        (xi, yi, z + dz + (lean if yi == y[1] else 0.0))
        for xi in x
        for yi in y
        for dz in (-half, half)
    ]
    return hull(np.array(corners))


def lathe(profile: Sequence[Point], base: Point = (0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    """Solid of revolution about the vertical axis (bottles, mugs, shades, bases).

    Args:
        profile: closed polygon of (radius, height) pairs; points on the axis have radius 0.
        base: (3,) where the profile's height 0 on the axis lands.

    Returns:
        Mesh of the revolved polygon, axis along +y.
    """
    polygon = np.asarray(profile, dtype=float)
    signed_area = np.sum(
        polygon[:, 0] * np.roll(polygon[:, 1], -1) - np.roll(polygon[:, 0], -1) * polygon[:, 1]
    )
    if signed_area < 0:
        polygon = polygon[::-1]
    if polygon[0, 0] != 0.0 or not np.allclose(polygon[0], polygon[-1]):
        polygon = np.vstack([polygon, polygon[:1]])
    mesh = trimesh.creation.revolve(polygon, sections=ROUND_SECTIONS)
    mesh.apply_transform(_Z_TO_Y)
    mesh.apply_translation(np.asarray(base, dtype=float))
    return mesh


def disk(radius: float, y: Point, center: Point = (0.0, 0.0)) -> trimesh.Trimesh:
    """Upright cylinder (table tops, lamp bases, pedestal feet).

    Args:
        radius: cylinder radius.
        y: (2,) bottom and top heights.
        center: (2,) x and z of the axis.

    Returns:
        Closed cylinder mesh with axis along y.
    """
    return rod((center[0], y[0], center[1]), (center[0], y[1], center[1]), radius, ROUND_SECTIONS)


def ellipsoid(radii: Point, center: Point) -> trimesh.Trimesh:
    """Ellipsoid (pillows, globe shades, rounded arms).

    Args:
        radii: (3,) semi-axes along x, y, z.
        center: (3,) centre.

    Returns:
        Closed ellipsoid mesh.
    """
    mesh = trimesh.creation.icosphere(subdivisions=2)
    mesh.apply_scale(np.asarray(radii, dtype=float))
    mesh.apply_translation(np.asarray(center, dtype=float))
    return mesh


def arc(
    center: Point,
    radii: Point,
    angles: Point,
    thickness: float,
    count: int = 6,
) -> list[trimesh.Trimesh]:
    """Bent bar along an elliptic arc in the x-y plane, made of short overlapping rods.

    Used for mug and jug handles.

    Args:
        center: (3,) centre of the ellipse.
        radii: (2,) semi-axes along x and y.
        angles: (2,) start and end angle in radians (0 points to +x, pi/2 to +y).
        thickness: bar radius.
        count: number of rods.

    Returns:
        List of ``count`` rod meshes.
    """
    theta = np.linspace(angles[0], angles[1], count + 1)
    offsets = np.stack([np.cos(theta) * radii[0], np.sin(theta) * radii[1], 0 * theta], 1)
    points = offsets + np.asarray(center, dtype=float)
    return [rod(points[i], points[i + 1], thickness) for i in range(count)]


def leg_positions(width: float, depth: float, count: int, start_angle: float = 0.0) -> np.ndarray:
    """Foot positions (x, z) under a rectangular or round top.

    Args:
        width: footprint extent along x.
        depth: footprint extent along z.
        count: 4 and 6 sit at the corners, in order around the footprint (6 adds two at
            mid-length after them); other counts sit evenly on the inscribed ellipse.
        start_angle: angle of the first foot on the ellipse, in radians.

    Returns:
        (count, 2) array of (x, z) positions.
    """
    half_w, half_d = width / 2, depth / 2
    if count in (4, 6):
        corners = [(-half_w, -half_d), (-half_w, half_d), (half_w, half_d), (half_w, -half_d)]
        middle = [(0.0, -half_d), (0.0, half_d)] if count == 6 else []
        return np.array(corners + middle)
    angles = start_angle + np.arange(count) * 2 * np.pi / count
    return np.stack([np.cos(angles) * half_w, np.sin(angles) * half_d], 1)


def stretchers(positions: np.ndarray, y: float, radius: float) -> list[trimesh.Trimesh]:
    """Horizontal bars joining consecutive leg positions in a closed loop.

    Args:
        positions: (N, 2) (x, z) of the legs, in order around the footprint.
        y: height of the bars.
        radius: bar radius.

    Returns:
        N rod meshes.
    """
    ends = np.roll(positions, -1, axis=0)
    return [
        rod((a[0], y, a[1]), (b[0], y, b[1]), radius) for a, b in zip(positions, ends, strict=True)
    ]


def legs(
    positions: np.ndarray, y: Point, thickness: float, square: bool, splay: float = 0.0
) -> list[trimesh.Trimesh]:
    """Vertical (optionally splayed) legs.

    Args:
        positions: (N, 2) (x, z) of each leg's top.
        y: (2,) floor and top heights.
        thickness: leg width (square) or diameter (round).
        square: square section (4 facets) instead of round.
        splay: fraction of the top position added outwards at the floor.

    Returns:
        List of leg meshes.
    """
    sections = 4 if square else THIN_SECTIONS
    radius = thickness / (np.sqrt(2) if square else 2)
    return [
        rod((x * (1 + splay), y[0], z * (1 + splay)), (x, y[1], z), radius, sections)
        for x, z in positions
    ]


def star_base(
    rng: np.random.Generator, radius: float, top: float, thickness: float
) -> list[trimesh.Trimesh]:
    """Swivel-chair / pedestal base: a column over 4-5 spokes, sometimes with casters.

    Args:
        rng: random generator.
        radius: spoke length.
        top: height where the column meets the seat or top.
        thickness: spoke and column thickness.

    Returns:
        List of part meshes.
    """
    spokes = int(rng.integers(4, 6))
    foot = thickness * rng.uniform(0.5, 2.0)
    parts = [rod((0, foot, 0), (0, top, 0), thickness * rng.uniform(0.7, 1.5))]
    angles = rng.uniform(0, 2 * np.pi) + np.arange(spokes) * 2 * np.pi / spokes
    casters = rng.random() < 0.5
    for angle in angles:
        tip = (np.cos(angle) * radius, foot * 0.5, np.sin(angle) * radius)
        parts.append(rod((0, foot, 0), tip, thickness / 2))
        if casters:
            parts.append(ellipsoid((thickness, foot * 0.6, thickness), tip))
    return parts


def combine(parts: Sequence[trimesh.Trimesh]) -> trimesh.Trimesh:
    """Concatenate parts into one mesh (overlaps are kept; the voxelizer fills them).

    Args:
        parts: part meshes.

    Returns:
        One mesh holding all parts.
    """
    return trimesh.util.concatenate(list(parts))
