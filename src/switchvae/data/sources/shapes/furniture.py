"""Furniture classes: table, desk, shelf, bed.

They share tops, legs, panels and shelf units, so that they overlap the way real ones do:
console tables look like desks, leg desks like tables, sideboards like desks, hutches
like shelves, daybeds like sofas. Sizes are in metres; front faces +z.
"""

from __future__ import annotations

import numpy as np
import trimesh

from switchvae.data.sources.shapes.parts import (
    block,
    disk,
    ellipsoid,
    leg_positions,
    legs,
    rod,
    star_base,
)

Parts = list[trimesh.Trimesh]
Rng = np.random.Generator

TABLE_SIZES = {
    "dining": ((0.8, 2.0), (0.6, 1.1), (0.65, 0.8)),
    "coffee": ((0.7, 1.4), (0.45, 0.8), (0.35, 0.5)),
    "side": ((0.4, 0.65), (0.4, 0.65), (0.45, 0.7)),
    "console": ((0.9, 1.6), (0.3, 0.45), (0.7, 0.85)),
}
"""Table kind -> (width, depth, height) ranges; square and round tops use the width."""
TABLE_KIND_P = (0.5, 0.2, 0.15, 0.15)
TOP_SHAPES = ("rect", "square", "round")
TOP_SHAPE_P = (0.55, 0.2, 0.25)
TABLE_BASES = ("legs", "pedestal", "trestle")
TABLE_BASE_P = (0.6, 0.25, 0.15)
DESK_SUPPORTS = ("one", "two", "panels", "legs")
DESK_SUPPORT_P = (0.3, 0.2, 0.2, 0.3)
BED_KINDS = ("bed", "daybed", "bunk", "canopy")
BED_KIND_P = (0.6, 0.22, 0.1, 0.08)
_TURN_BACK_TO_MINUS_Z = trimesh.transformations.rotation_matrix(-np.pi / 2, [0.0, 1.0, 0.0])
"""Quarter turn about y taking -x to -z (a daybed's back goes behind it)."""


def _top(width: float, depth: float, height: float, thick: float, round_: bool) -> Parts:
    """Table top or shelf board: a rectangular board or a disk, upper face at ``height``."""
    if round_:
        return [disk(width / 2, (height - thick, height))]
    return [block((-width / 2, width / 2), (height - thick, height), (-depth / 2, depth / 2))]


def _table_size(rng: Rng) -> tuple[str, float, float, float]:
    """Draw a table kind's top shape and size: (shape, width, depth, height)."""
    kind = rng.choice(list(TABLE_SIZES), p=TABLE_KIND_P)
    width, depth, height = (rng.uniform(*bounds) for bounds in TABLE_SIZES[kind])
    shape = "rect" if kind == "console" else rng.choice(TOP_SHAPES, p=TOP_SHAPE_P)
    return shape, width, depth if shape == "rect" else width, height


def _pedestal(rng: Rng, width: float, depth: float, under: float) -> Parts:
    """Central column on a round foot or a star of spokes."""
    parts = [rod((0, 0, 0), (0, under, 0), rng.uniform(0.04, 0.12), 12)]
    foot = min(width, depth) * rng.uniform(0.25, 0.45)
    if rng.random() < 0.5:
        return parts + [disk(foot, (0, rng.uniform(0.02, 0.06)))]
    return parts + star_base(rng, foot, under * 0.3, rng.uniform(0.03, 0.06))


def _trestle(rng: Rng, width: float, depth: float, top: float) -> Parts:
    """Two end panels joined by a stretcher."""
    thick, inset = rng.uniform(0.03, 0.08), rng.uniform(0.8, 0.95)
    span, x = depth * rng.uniform(0.6, 0.9), width * inset / 2
    z = (-span / 2, span / 2)
    parts = [block((sx * x - thick / 2, sx * x + thick / 2), (0, top), z) for sx in (-1, 1)]
    y = top * rng.uniform(0.2, 0.6)
    return parts + [block((-x, x), (y, y + thick), (-thick / 2, thick / 2))]


def table(rng: Rng) -> Parts:
    """Dining, coffee, side or console table: top on legs, a pedestal or trestle ends."""
    shape, width, depth, height = _table_size(rng)
    thick = rng.uniform(0.02, 0.07)
    parts = _top(width, depth, height, thick, shape == "round")
    under = height - thick
    kind = rng.choice(TABLE_BASES, p=TABLE_BASE_P)
    if kind == "pedestal":
        return parts + _pedestal(rng, width, depth, under)
    if kind == "trestle":
        return parts + _trestle(rng, width, depth, under)
    count = int(rng.integers(3, 6)) if shape == "round" else 4
    inset = rng.uniform(0.75, 0.95)
    inner_w, inner_d = width * inset, depth * inset
    positions = leg_positions(inner_w, inner_d, count, rng.uniform(0, 2 * np.pi))
    thickness, square, splay = rng.uniform(0.03, 0.08), rng.random() < 0.6, rng.uniform(0, 0.08)
    parts += legs(positions, (0, under), thickness, square, splay)
    if rng.random() < 0.35 and shape != "round":
        apron = rng.uniform(0.05, 0.12)
        x, z = (-inner_w / 2, inner_w / 2), (-inner_d / 2, inner_d / 2)
        parts.append(block(x, (under - apron, under), z))
    if rng.random() < 0.15:
        parts += _top(inner_w, inner_d, under * rng.uniform(0.15, 0.35), 0.02, shape == "round")
    return parts


def _desk_side(rng: Rng, kind: str, edge: float, depth: float, under: float) -> Parts:
    """One end of a desk at x = ``edge``: a drawer pedestal, a side panel or two legs."""
    inward = -np.sign(edge)
    if kind == "pedestal":
        drawers = rng.uniform(0.3, 0.5)
        return [
            block(
                sorted((edge, edge + inward * drawers)), (0, under), (-depth / 2, depth / 2 - 0.02)
            )
        ]
    if kind == "panel":
        return [block(sorted((edge, edge + inward * 0.04)), (0, under), (-depth / 2, depth / 2))]
    feet = np.array([[edge + inward * 0.04, dz * depth * 0.45] for dz in (-1, 1)])
    return legs(feet, (0, under), 0.04, True)


def desk(rng: Rng) -> Parts:
    """Desk: top over drawer pedestals, panels or legs, modesty panel, optional hutch."""
    width, depth = rng.uniform(1.0, 1.8), rng.uniform(0.5, 0.8)
    height, thick = rng.uniform(0.7, 0.78), rng.uniform(0.02, 0.05)
    under, x = height - thick, (-width / 2, width / 2)
    parts = _top(width, depth, height, thick, False)
    support = rng.choice(DESK_SUPPORTS, p=DESK_SUPPORT_P)
    pedestal_side = rng.choice([-1, 1])
    for sx in (-1, 1):
        if support == "two" or (support == "one" and sx == pedestal_side):
            side = "pedestal"
        else:
            side = "panel" if support in ("panels", "one") else "legs"
        parts += _desk_side(rng, side, sx * width / 2, depth, under)
    if support == "legs":
        parts.append(
            block((-width * 0.3, width * 0.3), (under - 0.12, under), (-depth / 2, depth / 2))
        )
    if rng.random() < 0.6:
        parts.append(
            block(x, (under * rng.uniform(0.2, 0.6), under), (-depth / 2, -depth / 2 + 0.02))
        )
    if rng.random() < 0.25:
        hutch_depth, hutch_height = depth * rng.uniform(0.25, 0.4), rng.uniform(0.3, 0.7)
        parts += _shelf_unit(rng, width, hutch_depth, hutch_height, height, -depth / 2)
    return parts


def _shelf_unit(
    rng: Rng, width: float, depth: float, height: float, base: float, back: float
) -> Parts:
    """Open shelf unit: sides (or four posts), 2-6 boards, optional back panel and divider.

    Args:
        rng: random generator.
        width, depth, height: outer size.
        base: height of its bottom.
        back: z of its back face (it extends towards +z).

    Returns:
        List of part meshes.
    """
    thick = rng.uniform(0.015, 0.04)
    x, y, z = (-width / 2, width / 2), (base, base + height), (back, back + depth)
    if rng.random() < 0.75:
        parts = [block((sx - thick / 2, sx + thick / 2), y, z) for sx in x]
    else:
        parts = legs(np.array([(sx, sz) for sx in x for sz in z]), y, thick * 1.5, True)
    kick = rng.uniform(0.0, 0.1) * (rng.random() < 0.4)
    for board_y in np.linspace(base + kick, base + height - thick, int(rng.integers(2, 7))):
        parts.append(block(x, (board_y, board_y + thick), z))
    if rng.random() < 0.6:
        parts.append(block(x, y, (back, back + thick)))
    if width > 0.9 and rng.random() < 0.3:
        parts.append(block((-thick / 2, thick / 2), y, z))
    return parts


def shelf(rng: Rng) -> Parts:
    """Bookshelf or cabinet: tall, low and wide, or a sideboard on legs; some with doors."""
    width, depth = rng.uniform(0.5, 1.6), rng.uniform(0.25, 0.5)
    height, base = rng.uniform(0.5, 2.0), 0.0
    parts: Parts = []
    if rng.random() < 0.15:
        width, height, base = rng.uniform(1.0, 1.8), rng.uniform(0.6, 0.85), rng.uniform(0.1, 0.25)
        parts += legs(leg_positions(width * 0.95, depth * 0.9, 4), (0, base), 0.04, True)
    parts += _shelf_unit(rng, width, depth, height - base, base, -depth / 2)
    if base > 0 or rng.random() < 0.3:
        doors = base + (height - base) * rng.uniform(0.3, 1.0)
        parts.append(block((-width / 2, width / 2), (base, doors), (-depth / 2, depth / 2)))
    return parts


def _bed_deck(width: float, length: float, bottom: float, frame_top: float, top: float) -> Parts:
    """Bed frame box, mattress on it, and short legs when it is off the floor."""
    x, z = (-width / 2, width / 2), (-length / 2, length / 2)
    parts = [
        block(x, (bottom, frame_top), z),
        block((x[0] + 0.03, x[1] - 0.03), (frame_top, top), z),
    ]
    if bottom > 0:
        parts += legs(leg_positions(width * 0.95, length * 0.95, 4), (0, bottom), 0.06, True)
    return parts


def _daybed(rng: Rng, parts: Parts, width: float, length: float, top: float, board: float) -> Parts:
    """Turn a narrow bed into a daybed: back along its long side, low ends, open front."""
    x = (-width / 2, width / 2)
    parts.append(
        block(
            (-width / 2 - board, -width / 2),
            (0, top + rng.uniform(0.1, 0.8)),
            (-length / 2, length / 2),
        )
    )
    for sz in (-1, 1):
        parts.append(
            block(
                x,
                (0, top + rng.uniform(0.1, 0.4)),
                sorted((sz * length / 2, sz * (length / 2 + board))),
            )
        )
    return [part.apply_transform(_TURN_BACK_TO_MINUS_Z) for part in parts]


def bed(rng: Rng) -> Parts:
    """Bed: frame, mattress, headboard, optional footboard and pillows; or a daybed,
    bunk bed or canopy bed. The headboard is at -z."""
    length = rng.uniform(1.9, 2.2)
    width = rng.uniform(0.9, 1.2) if rng.random() < 0.4 else rng.uniform(1.35, 2.1)
    kind = rng.choice(BED_KINDS, p=BED_KIND_P)
    if kind in ("daybed", "bunk"):
        width = rng.uniform(0.85, 1.1)
    leg, frame = rng.uniform(0.0, 0.2), rng.uniform(0.12, 0.35)
    top = leg + frame + rng.uniform(0.12, 0.3)
    parts = _bed_deck(width, length, leg, leg + frame, top)
    board = rng.uniform(0.04, 0.1)
    if kind == "daybed":
        return _daybed(rng, parts, width, length, top, board)
    x, head_top = (-width / 2, width / 2), top + rng.uniform(0.1, 0.8)
    if kind == "bunk":
        lift = rng.uniform(0.9, 1.3)
        parts += _bed_deck(width, length, lift, lift + frame * 0.6, lift + frame * 0.6 + 0.15)
        head_top = lift + rng.uniform(0.4, 0.7)
    parts.append(block(x, (0, head_top), (-length / 2 - board, -length / 2)))
    if rng.random() < 0.5 or kind == "bunk":
        parts.append(block(x, (0, top + rng.uniform(-0.1, 0.3)), (length / 2, length / 2 + board)))
    if kind in ("bunk", "canopy"):
        post_top = head_top if kind == "bunk" else rng.uniform(1.7, 2.2)
        parts += legs(leg_positions(width, length, 4), (0, post_top), 0.06, True)
    pillows = int(rng.integers(0, 3))
    for px in np.linspace(-width / 4, width / 4, pillows) if pillows > 1 else np.zeros(pillows):
        radii = (width / (2 * pillows + 1), 0.07, 0.18)
        parts.append(ellipsoid(radii, (px, top + 0.04, -length / 2 + 0.25)))
    return parts
