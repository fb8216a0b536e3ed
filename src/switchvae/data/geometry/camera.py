"""Camera maths shared by both render backends: poses, pixel rays and projection.

Conventions (see DESIGN §8):

* World frame: the canonical frame, y up; objects lie in the cube [-0.5, 0.5]^3.
* Cameras are camera-to-world 4x4 matrices in the OpenGL convention: the camera looks
  down its -z axis, +x is image right, +y is image up.
* Azimuth is measured around +y, **counter-clockwise seen from above** (from +y looking
  down). Azimuth 0 puts the camera on +z looking at the origin (the object's front), so
  world +x is image right in view 0; azimuth 90 puts the camera on +x. Elevation lifts
  the camera above the xz plane towards +y.
* Pixel (row r, column c) has its center at image-plane coordinates
  u = (c + 0.5) / W * 2 - 1 (right positive) and v = 1 - (r + 0.5) / H * 2 (up positive);
  row 0 is the top of the image. The same centers are used by the ray caster and the
  rasterizer, so both sample the same points.
"""

from __future__ import annotations

import math

import numpy as np

from switchvae.errors import DataError

FOV_DEG = 30.0
"""Full (vertical = horizontal) field of view of the square perspective camera; a
moderate angle keeps perspective distortion small (ShapeNetRendering uses 25 deg)."""

BOUNDING_RADIUS = math.sqrt(3.0) / 2.0
"""Radius of the sphere around the canonical cube [-0.5, 0.5]^3 (half its diagonal)."""

CAMERA_DISTANCE = BOUNDING_RADIUS / math.sin(math.radians(FOV_DEG / 2.0))
"""Distance from the origin at which that sphere exactly fits the view cone, so every
shape in the canonical frame is fully visible at the same scale (about 3.35)."""

RING_ELEVATION_DEG = 30.0
"""MVCNN ring (Su et al. 2015): cameras every 360/V degrees, elevated 30 degrees."""

RANDOM_ELEVATION_RANGE_DEG = (15.0, 45.0)
"""Elevation range of ``views="random"``: 30 +- 15 degrees around the ring, covering the
25-30 degree elevations of the ShapeNetRendering (3D-R2N2) views."""

VIEW_LAYOUTS = ("ring", "random")


def look_at_origin(azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Camera-to-world matrices of cameras at CAMERA_DISTANCE looking at the origin.

    The pose is R_y(azimuth) @ R_x(-elevation) @ T(0, 0, CAMERA_DISTANCE): a camera on +z
    looking down -z, tilted up and then turned counter-clockwise (seen from above).

    Args:
        azimuth_deg: (V,) azimuths in degrees.
        elevation_deg: (V,) elevations in degrees.

    Returns:
        (V, 4, 4) float64 camera-to-world matrices.
    """
    azimuth = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    elevation = np.radians(np.asarray(elevation_deg, dtype=np.float64))
    sin_a, cos_a = np.sin(azimuth), np.cos(azimuth)
    sin_e, cos_e = np.sin(elevation), np.cos(elevation)
    zeros = np.zeros_like(azimuth)
    # Columns of the rotation: camera right, up and backward (+z) axes in world coordinates.
    right = np.stack([cos_a, zeros, -sin_a], axis=-1)
    up = np.stack([-sin_a * sin_e, cos_e, -cos_a * sin_e], axis=-1)
    backward = np.stack([sin_a * cos_e, sin_e, cos_a * cos_e], axis=-1)
    poses = np.zeros((azimuth.shape[0], 4, 4))
    poses[:, :3, 0] = right
    poses[:, :3, 1] = up
    poses[:, :3, 2] = backward
    poses[:, :3, 3] = backward * CAMERA_DISTANCE
    poses[:, 3, 3] = 1.0
    return poses


def camera_poses(
    num_views: int = 12,
    elevation_deg: float = RING_ELEVATION_DEG,
    views: str = "ring",
    seed: int | None = None,
) -> np.ndarray:
    """Camera-to-world matrices of the render cameras.

    Args:
        num_views: V, the number of cameras (>= 1).
        elevation_deg: elevation of the ``"ring"`` cameras in degrees (ignored by
            ``"random"``).
        views: ``"ring"``: azimuths 0, 360/V, 2*360/V, ... degrees at ``elevation_deg``
            (view 0 on +z, the front); ``"random"``: azimuth uniform in [0, 360) and
            elevation uniform in RANDOM_ELEVATION_RANGE_DEG, drawn (azimuths first, then
            elevations) from ``np.random.default_rng(seed)``.
        seed: seed of the random layout (ignored by ``"ring"``); None draws fresh entropy.

    Returns:
        (V, 4, 4) float64 camera-to-world matrices (OpenGL convention).

    Raises:
        DataError: on a bad ``num_views``, ``elevation_deg`` or ``views``.
    """
    check_positive_int(num_views, "num_views")
    if views == "ring":
        if not math.isfinite(elevation_deg) or abs(elevation_deg) >= 90.0:
            raise DataError(
                f"elevation_deg={elevation_deg!r} is not usable: give a finite angle "
                "strictly between -90 and 90 degrees."
            )
        azimuth = np.arange(num_views) * (360.0 / num_views)
        elevation = np.full(num_views, float(elevation_deg))
    elif views == "random":
        rng = np.random.default_rng(seed)
        azimuth = rng.uniform(0.0, 360.0, size=num_views)
        elevation = rng.uniform(*RANDOM_ELEVATION_RANGE_DEG, size=num_views)
    else:
        raise DataError(f"unknown views={views!r}: choose one of {', '.join(VIEW_LAYOUTS)}.")
    return look_at_origin(azimuth, elevation)


def pixel_rays(poses: np.ndarray, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """World-space rays through the pixel centers of every camera.

    Args:
        poses: (V, 4, 4) camera-to-world matrices.
        image_size: H = W, the side of the square image in pixels.

    Returns:
        origins (V, H*W, 3) and directions (V, H*W, 3), float64, pixels in row-major
        order. Directions are not normalized: their camera-space z is -1, so the ray
        parameter of a hit equals its depth in front of the camera.
    """
    centers = (np.arange(image_size) + 0.5) / image_size * 2.0 - 1.0
    scale = math.tan(math.radians(FOV_DEG / 2.0))
    v, u = np.meshgrid(-centers * scale, centers * scale, indexing="ij")
    camera_dirs = np.stack([u, v, -np.ones_like(u)], axis=-1).reshape(-1, 3)
    directions = camera_dirs @ poses[:, :3, :3].transpose(0, 2, 1)
    origins = np.broadcast_to(poses[:, None, :3, 3], directions.shape).copy()
    return origins, directions


def project_points(points: np.ndarray, poses: np.ndarray, image_size: int) -> np.ndarray:
    """Project world points into every camera.

    Args:
        points: (N, 3) world coordinates.
        poses: (V, 4, 4) camera-to-world matrices.
        image_size: H = W in pixels.

    Returns:
        (V, N, 3) float64: column x and row y in pixel units, with pixel centers at
        integers (pixel (r, c) is at x = c, y = r), and the depth in front of the camera
        (positive for visible points).
    """
    rotation = poses[:, :3, :3]
    offset = np.asarray(points, dtype=np.float64)[None] - poses[:, None, :3, 3]
    camera = offset @ rotation  # (V, N, 3): rows times R = R^T applied to each point
    depth = -camera[..., 2]
    scale = math.tan(math.radians(FOV_DEG / 2.0))
    u = camera[..., 0] / (depth * scale)
    v = camera[..., 1] / (depth * scale)
    x = (u + 1.0) * 0.5 * image_size - 0.5
    y = (1.0 - v) * 0.5 * image_size - 0.5
    return np.stack([x, y, depth], axis=-1)


def check_positive_int(value: object, name: str) -> None:
    """Raise DataError unless ``value`` is an int >= 1 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise DataError(f"{name}={value!r} is not usable: give a whole number >= 1.")
