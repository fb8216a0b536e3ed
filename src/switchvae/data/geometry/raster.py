"""A dependency-free, vectorized z-buffer triangle rasterizer in plain torch.

It returns, for every pixel of every view, the index of the nearest triangle covering the
pixel center (or -1), the same quantity the embree ray caster returns, so both backends
share one shading step. All views' triangles are processed at once, with no Python loop:
each triangle's pixel rows, then the pixel centers within its span on each row, are
enumerated with ``repeat_interleave``; candidates are confirmed with edge functions
(barycentric weights >= 0), and the depth test is a ``scatter_reduce`` (amax of the
perspective-correct inverse depth).

The work is many medium-sized tensor ops; when CPU cores are oversubscribed (parallel
prepare workers, a shared machine), torch's intra-op thread pool makes them much slower
(measured ~10x on 2 busy cores), so run it with ``torch.set_num_threads(1)`` per worker.
"""

from __future__ import annotations

import torch

MIN_DOUBLE_AREA = 1e-12
"""Triangles whose projected (doubled) area in square pixels is below this are skipped:
they are edge-on or degenerate and cover no pixel center a ray could hit reliably."""

SPAN_SLACK = 1e-6
"""Row spans are widened by this many pixels so rounding never drops a pixel center that
the exact barycentric test accepts; the extra candidates are rejected by that test."""

MIN_DEPTH = 1e-6
"""Triangles with a vertex closer than this to (or behind) the camera plane are skipped;
with canonical-frame meshes and cameras outside the bounding sphere this never happens."""


def _edge(
    ax: torch.Tensor,
    ay: torch.Tensor,
    bx: torch.Tensor,
    by: torch.Tensor,
    px: torch.Tensor,
    py: torch.Tensor,
) -> torch.Tensor:
    """Edge function: twice the signed area of triangle (a, b, p); all args broadcast."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _expand(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Enumerate ``counts[i]`` items for every i.

    Args:
        counts: (T,) int64 >= 0.

    Returns:
        owner (M,) and local (M,) int64, M = counts.sum(): item m is number local[m]
        (0-based) of entry owner[m].
    """
    owner = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    starts = torch.cumsum(counts, dim=0) - counts
    return owner, torch.arange(owner.numel()) - starts[owner]


def _row_spans(
    tri_x: torch.Tensor, tri_y: torch.Tensor, orientation: torch.Tensor, row: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Columns [first, last] of the pixel centers of one row inside one triangle.

    Each edge's inside condition ``orientation * edge(a, b, p) >= 0`` is linear in the
    pixel column x along a row: ``slope * x + offset >= 0``, a lower or an upper bound.

    Args:
        tri_x, tri_y: (R, 3) vertex columns / rows of the triangle of each row pair.
        orientation: (R,) +1 or -1, the sign of the triangle's projected area.
        row: (R,) pixel row (as float) of each pair.

    Returns:
        first (R,) and last (R,) float bounds, widened by SPAN_SLACK; may be empty
        (first > last) or unclamped.
    """
    start_x, start_y = tri_x, tri_y
    end_x, end_y = tri_x.roll(-1, dims=1), tri_y.roll(-1, dims=1)
    slope = -(end_y - start_y) * orientation[:, None]
    offset = ((end_x - start_x) * (row[:, None] - start_y) + (end_y - start_y) * start_x) * (
        orientation[:, None]
    )
    bound = -offset / torch.where(slope == 0, torch.ones_like(slope), slope)
    lower = torch.where(slope > 0, bound, torch.full_like(bound, -torch.inf)).amax(dim=1)
    upper = torch.where(slope < 0, bound, torch.full_like(bound, torch.inf)).amin(dim=1)
    blocked = ((slope == 0) & (offset < 0)).any(dim=1)
    upper = torch.where(blocked, torch.full_like(upper, -torch.inf), upper)
    return lower - SPAN_SLACK, upper + SPAN_SLACK


def _candidate_pixels(
    tri_x: torch.Tensor,
    tri_y: torch.Tensor,
    double_area: torch.Tensor,
    keep: torch.Tensor,
    image_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Enumerate the pixel centers on each kept triangle's rows, within its row spans.

    Args:
        tri_x, tri_y: (T, 3) projected vertex columns / rows (pixel centers at integers).
        double_area: (T,) signed doubled projected area.
        keep: (T,) bool, triangles to rasterize.
        image_size: H = W.

    Returns:
        triangle (M,), column (M,) and row (M,) int64 of the M (triangle, pixel) pairs.
    """
    last_index = image_size - 1
    y_first = torch.ceil(tri_y.min(dim=1).values).clamp(min=0)
    y_last = torch.floor(tri_y.max(dim=1).values).clamp(max=last_index)
    heights = torch.where(keep, (y_last - y_first + 1).clamp(min=0), 0).long()
    triangle, local_row = _expand(heights)
    row = y_first[triangle] + local_row
    first, last = _row_spans(tri_x[triangle], tri_y[triangle], double_area[triangle].sign(), row)
    first = torch.ceil(first).clamp(min=0)
    last = torch.floor(last).clamp(max=last_index)
    pair, local_column = _expand((last - first + 1).clamp(min=0).long())
    column = first[pair].long() + local_column
    return triangle[pair], column, row[pair].long()


def rasterize_face_ids(
    projected: torch.Tensor, faces: torch.Tensor, image_size: int
) -> torch.Tensor:
    """Nearest triangle under every pixel center, for every view.

    Args:
        projected: (V, N, 3) float, per view the vertices' pixel column, pixel row (pixel
            centers at integers) and positive depth, as from ``camera.project_points``.
        faces: (F, 3) int64 vertex indices.
        image_size: H = W.

    Returns:
        (V, H*W) int64 face index of the nearest triangle covering each pixel center
        (row-major pixels), -1 where none does.
    """
    num_views, num_faces = projected.shape[0], faces.shape[0]
    corners = projected[:, faces].reshape(num_views * num_faces, 3, 3)  # (T, vertex, xyz)
    xs, ys, depth = corners[..., 0], corners[..., 1], corners[..., 2]
    double_area = _edge(xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1], xs[:, 2], ys[:, 2])
    keep = (double_area.abs() > MIN_DOUBLE_AREA) & (depth > MIN_DEPTH).all(dim=1)
    triangle, column, row = _candidate_pixels(xs, ys, double_area, keep, image_size)

    px, py = column.to(xs.dtype), row.to(xs.dtype)
    tx, ty = xs[triangle], ys[triangle]
    # Barycentric weight of vertex k = edge function of the opposite edge / triangle area.
    weights = (
        torch.stack(
            [
                _edge(tx[:, 1], ty[:, 1], tx[:, 2], ty[:, 2], px, py),
                _edge(tx[:, 2], ty[:, 2], tx[:, 0], ty[:, 0], px, py),
                _edge(tx[:, 0], ty[:, 0], tx[:, 1], ty[:, 1], px, py),
            ],
            dim=1,
        )
        / double_area[triangle, None]
    )
    inside = (weights >= 0).all(dim=1)
    triangle, column, row, weights = triangle[inside], column[inside], row[inside], weights[inside]
    # Inverse depth is affine in screen space: interpolate it with the screen barycentrics.
    inverse_depth = (weights / depth[triangle]).sum(dim=1)

    view = torch.div(triangle, num_faces, rounding_mode="floor")
    pixel = (view * image_size + row) * image_size + column
    face_ids = _nearest_faces(pixel, triangle % num_faces, inverse_depth, num_views * image_size**2)
    return face_ids.reshape(num_views, image_size * image_size)


def _nearest_faces(
    pixel: torch.Tensor, face: torch.Tensor, inverse_depth: torch.Tensor, num_pixels: int
) -> torch.Tensor:
    """Z-buffer: per pixel, the face of the fragment with the largest inverse depth.

    Args:
        pixel: (M,) int64 flat pixel index of each fragment.
        face: (M,) int64 face index of each fragment.
        inverse_depth: (M,) 1 / depth of each fragment.
        num_pixels: size of the flat pixel range.

    Returns:
        (num_pixels,) int64 face index, -1 where no fragment lands.
    """
    nearest = torch.full((num_pixels,), -torch.inf, dtype=inverse_depth.dtype)
    nearest = nearest.scatter_reduce(0, pixel, inverse_depth, reduce="amax")
    winner = inverse_depth == nearest[pixel]
    face_ids = torch.full((num_pixels,), -1, dtype=torch.long)
    # Exact depth ties (duplicate faces) resolve to the highest face index, deterministically.
    return face_ids.scatter_reduce(0, pixel[winner], face[winner], reduce="amax")
