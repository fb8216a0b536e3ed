"""Vehicle classes: car, airplane. The nose points to +z, y is up.

Sizes are in metres for cars; airplanes are built with a fuselage of length 1.
"""

from __future__ import annotations

import numpy as np
import trimesh

from switchvae.data.sources.shapes.parts import block, hull, lathe, rod, slab

Parts = list[trimesh.Trimesh]
Rng = np.random.Generator

CAR_KINDS = ("sedan", "hatch", "suv", "van", "pickup", "convertible")
CAR_KIND_P = (0.3, 0.2, 0.2, 0.1, 0.1, 0.1)
CABIN_REAR = {"sedan": -0.3, "hatch": -0.48, "suv": -0.48, "van": -0.5, "pickup": 0.0}
"""Where the cabin ends at the back, as a fraction of the car's length from its centre."""
CABIN_FRONT = {"van": 0.42, "pickup": 0.25}
"""Where the cabin starts at the front (fraction of length); others draw 0.1-0.25."""
ENGINE_COUNTS = (0, 2, 4)
ENGINE_COUNT_P = (0.3, 0.5, 0.2)
_Y_TO_Z = trimesh.transformations.rotation_matrix(np.pi / 2, [1.0, 0.0, 0.0])
"""Quarter turn about x taking +y (a lathe's axis) to +z (the fuselage axis)."""


def _wheels(rng: Rng, width: float, length: float, radius: float) -> Parts:
    """Four wheels (cylinders along x) just inside the body's sides."""
    axle = length / 2 - rng.uniform(0.6, 0.9)
    tire = rng.uniform(0.18, 0.28)
    parts = []
    for sx in (-1, 1):
        x = sx * (width / 2 - tire / 2 + 0.02)
        for sz in (-1, 1):
            parts.append(
                rod(
                    (x - tire / 2, radius, sz * axle), (x + tire / 2, radius, sz * axle), radius, 16
                )
            )
    return parts


def _open_top(rng: Rng, width: float, body_top: float) -> Parts:
    """Convertible: a raked windshield and one or two rows of seat backs, no roof."""
    screen, z = rng.uniform(0.3, 0.45), rng.uniform(0.1, 0.5)
    parts = [
        slab((-width * 0.45, width * 0.45), (body_top, body_top + screen), z, 0.04, -screen * 0.8)
    ]
    for row_z in (z - 0.9, z - 1.8)[: int(rng.integers(1, 3))]:
        parts.append(
            block(
                (-width * 0.4, width * 0.4),
                (body_top, body_top + screen * 0.9),
                (row_z - 0.1, row_z),
            )
        )
    return parts


def _cabin(rng: Rng, kind: str, width: float, length: float, body_top: float) -> Parts:
    """Cabin as the hull of its floor and (narrower, raked) roof rectangles."""
    low = kind in ("sedan", "hatch")
    height = rng.uniform(0.35, 0.55) if low else rng.uniform(0.55, 0.9)
    rear = CABIN_REAR[kind] * length
    front = CABIN_FRONT.get(kind, rng.uniform(0.1, 0.25)) * length
    slope, inset = rng.uniform(0.1, 0.5) * height, rng.uniform(0.03, 0.12)
    corners = []
    for level in (0, 1):
        half = width / 2 * (1 - inset * level)
        back = rear + level * slope * (kind == "sedan")
        corners += [
            (sx * half, body_top + level * height, z)
            for sx in (-1, 1)
            for z in (back, front - level * slope * 2)
        ]
    parts = [hull(np.array(corners))]
    if kind == "pickup":
        for sx in (-1, 1):
            parts.append(
                block(
                    sorted((sx * width / 2, sx * (width / 2 - 0.06))),
                    (body_top, body_top + 0.25),
                    (-length / 2, rear),
                )
            )
    return parts


def car(rng: Rng) -> Parts:
    """Car: body, cabin (sedan, hatchback, SUV, van, pickup) or open top, four wheels."""
    length, width = rng.uniform(3.0, 5.2), rng.uniform(1.6, 2.0)
    wheel_r, clearance = rng.uniform(0.28, 0.42), rng.uniform(0.12, 0.3)
    body_top = clearance + rng.uniform(0.45, 0.75)
    parts = [block((-width / 2, width / 2), (clearance, body_top), (-length / 2, length / 2))]
    kind = rng.choice(CAR_KINDS, p=CAR_KIND_P)
    if kind == "convertible":
        parts += _open_top(rng, width, body_top)
    else:
        parts += _cabin(rng, kind, width, length, body_top)
    return parts + _wheels(rng, width, length, wheel_r)


def _wing(
    span: float,
    root: float,
    tip: float,
    sweep: float,
    thick: float,
    lead: tuple[float, float, float],
    dihedral: float,
) -> trimesh.Trimesh:
    """Trapezoid wing (or tailplane) slab, symmetric about x = 0.

    Args:
        span: tip-to-tip extent along x.
        root: chord at the root; tip: chord at the tips.
        sweep: how far back (-z) the tips' leading edge sits.
        thick: half thickness.
        lead: (3,) the root's leading-edge point.
        dihedral: how far up the tips sit.

    Returns:
        Convex slab mesh.
    """
    x0, y0, z0 = lead
    points = [(x0, y0 + dy, z0 + dz) for dy in (-thick, thick) for dz in (0, -root)]
    for sx in (-1, 1):
        tip_y, tip_z = y0 + dihedral, z0 - sweep
        points += [
            (x0 + sx * span / 2, tip_y + dy, tip_z + dz)
            for dy in (-thick, thick)
            for dz in (0, -tip)
        ]
    return hull(np.array(points))


def _tail(rng: Rng, span: float, chord: float, radius: float, thick: float) -> Parts:
    """Tailplane (low or T-tail) and vertical fin at the back (-z) of a unit fuselage."""
    tail_span, tail_chord = span * rng.uniform(0.25, 0.45), chord * rng.uniform(0.4, 0.7)
    fin_h = rng.uniform(0.08, 0.2)
    tail_y = radius + fin_h if rng.random() < 0.2 else rng.uniform(-0.3, 0.5) * radius
    lead = (0, tail_y, -0.5 + tail_chord + 0.02)
    parts = [_wing(tail_span, tail_chord, tail_chord * 0.5, tail_chord * 0.4, thick, lead, 0.0)]
    outline = [
        (0, -0.48),
        (0, -0.5 + tail_chord * 1.6),
        (radius + fin_h, -0.49),
        (radius + fin_h, -0.5 + tail_chord * 0.8),
    ]
    return parts + [hull(np.array([(dx, y, z) for dx in (-thick, thick) for y, z in outline]))]


def airplane(rng: Rng) -> Parts:
    """Airliner, light plane or fighter: fuselage, wings, tail, fin, optional engines."""
    radius = rng.uniform(0.035, 0.07)
    nose, tail = rng.uniform(0.05, 0.15), rng.uniform(0.15, 0.3)
    body = lathe([(0, 0), (radius * 0.3, 0), (radius, tail), (radius, 1 - nose), (0, 1)])
    body.apply_transform(_Y_TO_Z)
    parts = [body.apply_translation((0, 0, -0.5))]
    fighter = rng.random() < 0.15
    span = rng.uniform(0.35, 0.5) if fighter else rng.uniform(0.7, 1.3)
    chord = rng.uniform(0.35, 0.5) if fighter else rng.uniform(0.1, 0.25)
    tip = chord * (rng.uniform(0.05, 0.2) if fighter else rng.uniform(0.25, 0.8))
    sweep = rng.uniform(0.0, 0.3) * span / 2 + (chord - tip) * fighter
    wing_y, wing_z = rng.uniform(-0.8, 0.8) * radius, rng.uniform(-0.1, 0.1)
    dihedral, thick = rng.uniform(0.0, 0.1) * span / 2, rng.uniform(0.008, 0.02)
    parts.append(_wing(span, chord, tip, sweep, thick, (0, wing_y, wing_z + chord / 2), dihedral))
    parts += _tail(rng, span, chord, radius, thick)
    engines = 0 if fighter else int(rng.choice(ENGINE_COUNTS, p=ENGINE_COUNT_P))
    engine_r = rng.uniform(0.02, 0.04)
    for k in range(engines):
        x = (1 if k % 2 else -1) * span * (0.18 if k < 2 else 0.34)
        y, z = wing_y - engine_r, wing_z + chord / 2 + 0.05
        parts.append(rod((x, y, z - 0.12), (x, y, z + 0.05), engine_r, 12))
    return parts
