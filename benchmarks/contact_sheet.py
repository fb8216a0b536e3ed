"""Render every fixture mesh into one contact sheet, to check the renderer by eye.

Rows are the ModelNet fixture meshes (z-up, converted to the canonical y-up frame), plus
two of them voxelized and rendered as voxel cubes; columns are views of the 12-view MVCNN
ring (azimuth 0 = front, from +z; counter-clockwise seen from above).

Usage (from the repository root)::

    .venv/bin/python benchmarks/contact_sheet.py [--out docs/images/fixture_renders.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from switchvae.data.geometry.mesh import MODELNET_UP, load_mesh, normalize_mesh
from switchvae.data.geometry.render import render_views
from switchvae.data.geometry.voxelize import voxelize_mesh

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELNET_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "modelnet_off"
DEFAULT_OUT = REPO_ROOT / "docs" / "images" / "fixture_renders.png"

RING_VIEWS = 12
"""MVCNN ring size (DESIGN §8)."""

SHOWN_VIEWS = (0, 2, 4, 6, 8, 10)
"""Ring views shown as columns: azimuth 0, 60, ..., 300 degrees."""

RESOLUTION = 32
"""Canonical grid side (DESIGN §5)."""

VOXELIZED = ("desk_0001", "sofa_0001")
"""Fixture meshes also shown voxelized, to check the voxel-grid input path."""

LABEL_WIDTH = 130
HEADER_HEIGHT = 18
TEXT_MARGIN = 4
"""Layout of the sheet in pixels: row labels on the left, view headers on top."""


def render_rows(image_size: int, backend: str) -> list[tuple[str, np.ndarray]]:
    """Render the shown ring views of every fixture mesh and of one voxelized mesh.

    Returns:
        (label, (len(SHOWN_VIEWS), H, W) uint8 gray images) per row.
    """
    shown = list(SHOWN_VIEWS)
    rows = []
    meshes = {}
    for path in sorted(MODELNET_FIXTURES.rglob("*.off")):
        meshes[path.stem] = normalize_mesh(load_mesh(path), RESOLUTION, up_axis=MODELNET_UP)
        views = render_views(
            meshes[path.stem], RING_VIEWS, image_size, backend=backend, normalize=False
        )
        rows.append((f"{path.parent.parent.name}/{path.stem}", views[shown, ..., 0]))
    for name in VOXELIZED:
        grid = voxelize_mesh(meshes[name], RESOLUTION, normalize=False)
        views = render_views(grid, RING_VIEWS, image_size, backend=backend)
        rows.append((f"{name} as {RESOLUTION}^3 voxels", views[shown, ..., 0]))
    return rows


def compose(rows: list[tuple[str, np.ndarray]], image_size: int) -> Image.Image:
    """Lay the rows out as one labelled gray image."""
    width = LABEL_WIDTH + len(SHOWN_VIEWS) * image_size
    height = HEADER_HEIGHT + len(rows) * image_size
    sheet = Image.new("L", (width, height), color=255)
    draw = ImageDraw.Draw(sheet)
    for column, view in enumerate(SHOWN_VIEWS):
        azimuth = view * 360 // RING_VIEWS
        draw.text((LABEL_WIDTH + column * image_size + TEXT_MARGIN, 2), f"az {azimuth}", fill=0)
    for row, (label, views) in enumerate(rows):
        top = HEADER_HEIGHT + row * image_size
        draw.text((TEXT_MARGIN, top + image_size // 2), label, fill=0)
        for column, view in enumerate(views):
            sheet.paste(Image.fromarray(view), (LABEL_WIDTH + column * image_size, top))
        draw.line([(0, top), (width, top)], fill=200)
    return sheet


def main() -> None:
    """Parse arguments, render and write the sheet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG file to write")
    parser.add_argument("--size", type=int, default=96, help="pixels per view image")
    parser.add_argument("--backend", default="auto", choices=("auto", "embree", "torch"))
    args = parser.parse_args()
    if not MODELNET_FIXTURES.is_dir():
        parser.error(f"fixture folder not found: {MODELNET_FIXTURES}")
    sheet = compose(render_rows(args.size, args.backend), args.size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
