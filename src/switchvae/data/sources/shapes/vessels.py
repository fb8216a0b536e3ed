"""Round, upright classes: lamp, bottle, mug.

They share revolved bodies, caps and handles, so that they overlap the way real ones do:
table lamps stand on jar-like bodies, jugs have mug handles, travel mugs are lidded
tumblers shaped like bottles. Sizes are in metres; the revolution axis is +y.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import trimesh

from switchvae.data.sources.shapes.parts import arc, block, disk, ellipsoid, lathe, rod

Parts = list[trimesh.Trimesh]
Rng = np.random.Generator

LAMP_KINDS = ("floor", "table", "desk")
LAMP_KIND_P = (0.3, 0.4, 0.3)
BOTTLE_KINDS = ("bottle", "jar", "jug", "vase")
BOTTLE_KIND_P = (0.55, 0.15, 0.15, 0.15)
LAMP_BODY_KINDS = ("bottle", "jar", "vase")
VESSEL_RADIUS = 0.04
"""Body radius of bottles; mugs use MUG_RADIUS. Other sizes are multiples of these."""
MUG_RADIUS = 0.045


def _desk_lamp(rng: Rng) -> Parts:
    """Desk lamp: small base, a two-segment arm in the y-z plane, a cone head."""
    parts = [disk(rng.uniform(0.06, 0.1), (0, rng.uniform(0.015, 0.04)))]
    elbow = (0.0, rng.uniform(0.25, 0.45), rng.uniform(-0.15, 0.1))
    head = np.array([0.0, elbow[1] + rng.uniform(-0.1, 0.2), rng.uniform(0.1, 0.35)])
    parts += [rod((0, 0, 0), elbow, 0.012), rod(elbow, head, 0.012)]
    shade_r = rng.uniform(0.05, 0.1)
    cone = [(0, 0), (shade_r, 0), (shade_r * 0.3, shade_r * 1.2), (0, shade_r * 1.2)]
    return parts + [lathe(cone, head - (0, shade_r * 1.2, 0))]


def _lamp_shade(rng: Rng, bottom_r: float, y: float) -> trimesh.Trimesh:
    """Globe, solid frustum or open frustum shell whose bottom is at height ``y``."""
    height, top_r = rng.uniform(0.15, 0.35), bottom_r * rng.uniform(0.5, 1.0)
    if rng.random() < 0.2:
        return ellipsoid((bottom_r, bottom_r, bottom_r), (0, y + bottom_r * 0.5, 0))
    if rng.random() < 0.5:
        return lathe([(0, 0), (bottom_r, 0), (top_r, height), (0, height)], (0, y, 0))
    wall = rng.uniform(0.008, 0.02)
    shell = [(bottom_r - wall, 0), (bottom_r, 0), (top_r, height), (top_r - wall, height)]
    return lathe(shell, (0, y, 0))


def lamp(rng: Rng) -> Parts:
    """Floor lamp (pole), table lamp (bottle-, jar- or vase-like body) or desk lamp (arm),
    with a shade."""
    kind = rng.choice(LAMP_KINDS, p=LAMP_KIND_P)
    if kind == "desk":
        return _desk_lamp(rng)
    base_r = rng.uniform(0.08, 0.2)
    parts = [disk(base_r, (0, rng.uniform(0.015, 0.05)))]
    if kind == "floor":
        top, shade_r = rng.uniform(1.2, 1.8), rng.uniform(0.15, 0.25)
        parts.append(rod((0, 0, 0), (0, top, 0), rng.uniform(0.01, 0.025)))
        return parts + [_lamp_shade(rng, shade_r, top - rng.uniform(0.05, 0.2))]
    body_r = base_r * rng.uniform(0.3, 0.9)
    vessel = _vessel(rng, rng.choice(LAMP_BODY_KINDS), body_r)
    parts.append(lathe(vessel.profile))
    shade_y = vessel.top - rng.uniform(0.05, 0.2)
    if rng.random() < 0.4:
        drum = body_r * rng.uniform(0.8, 1.4)
        return parts + [disk(drum, (shade_y, shade_y + vessel.top * rng.uniform(0.3, 0.6)))]
    return parts + [_lamp_shade(rng, rng.uniform(0.1, 0.2), shade_y)]


def _handle(rng: Rng, x: float, y: tuple[float, float], radius: float) -> Parts:
    """Handle on the side sign(x), from height y[0] to y[1]: a C arc or a D of bars.

    Args:
        rng: random generator.
        x: where the handle meets the body (its sign picks the side).
        y: (2,) bottom and top heights.
        radius: body radius (sets reach and bar thickness).

    Returns:
        List of rod meshes.
    """
    side = float(np.sign(x))
    reach, bar = radius * rng.uniform(0.4, 0.9), radius * rng.uniform(0.08, 0.15)
    if rng.random() < 0.6:
        angles = (-np.pi / 2, np.pi / 2) if side > 0 else (np.pi / 2, 3 * np.pi / 2)
        return arc((x, (y[0] + y[1]) / 2, 0), (reach, (y[1] - y[0]) / 2), angles, bar)
    far = x + side * reach
    corners = [(x, y[0], 0), (far, y[0], 0), (far, y[1], 0), (x, y[1], 0)]
    return [rod(a, b, bar) for a, b in zip(corners[:-1], corners[1:], strict=True)]


class Vessel(NamedTuple):
    """A revolved bottle-like body: its profile and the heights a cap or handle needs."""

    profile: list[tuple[float, float]]
    """Closed (radius, height) polygon from the foot up to the top of the neck."""
    shoulder_profile: list[tuple[float, float]]
    """The part of ``profile`` from the shoulder up (for a square body below it)."""
    body: float
    shoulder: float
    neck_radius: float
    top: float


def _vessel(rng: Rng, kind: str, radius: float) -> Vessel:
    """Draw a bottle, jar, jug or vase body of the given radius (bottles and lamp bodies).

    Args:
        rng: random generator.
        kind: one of BOTTLE_KINDS; jars and jugs are squat, jars wide-necked, vases flared.
        radius: body radius; every other size is a multiple of it.

    Returns:
        The vessel's profile and key heights.
    """
    squat = kind in ("jar", "jug")
    body = radius * (rng.uniform(1.2, 2.5) if squat else rng.uniform(1.5, 5.0))
    shoulder = radius * rng.uniform(0.2, 1.5)
    neck_r = radius * (rng.uniform(0.5, 0.85) if kind == "jar" else rng.uniform(0.25, 0.55))
    neck = radius * (rng.uniform(0.1, 0.5) if kind == "jar" else rng.uniform(0.2, 2.5))
    foot = radius * rng.uniform(0.6, 1.0)
    top = body + shoulder + neck
    lip = neck_r * (rng.uniform(1.3, 2.0) if kind == "vase" else 1.0)
    upper = [(neck_r, body + shoulder), (lip, top), (0.0, top)]
    profile = [(0.0, 0.0), (foot, 0.0), (radius, body * 0.1), (radius, body), *upper]
    return Vessel(profile, [(0.0, body), *upper], body, shoulder, neck_r, top)


def bottle(rng: Rng) -> Parts:
    """Wine/water bottle, jar, jug or vase: revolved (or square) body, shoulder, neck, cap."""
    kind = rng.choice(BOTTLE_KINDS, p=BOTTLE_KIND_P)
    radius = VESSEL_RADIUS
    vessel = _vessel(rng, kind, radius)
    if kind == "bottle" and rng.random() < 0.2:
        parts = [lathe(vessel.shoulder_profile)]
        parts.append(block((-radius, radius), (0, vessel.body), (-radius * 0.7, radius * 0.7)))
    else:
        parts = [lathe(vessel.profile)]
    if kind != "vase" and rng.random() < 0.7:
        cap = (vessel.top, vessel.top + radius * rng.uniform(0.2, 0.6))
        parts.append(disk(vessel.neck_radius * rng.uniform(1.05, 1.3), cap))
    if kind == "jug":
        side = rng.choice([-1.0, 1.0])
        grip = (vessel.body * 0.3, vessel.body + vessel.shoulder * 0.8)
        parts += _handle(rng, side * radius * 0.9, grip, radius)
    return parts


def mug(rng: Rng) -> Parts:
    """Mug, cup or travel tumbler: open revolved shell with a floor, a handle (usually),
    a lid (tumblers, some mugs)."""
    radius = MUG_RADIUS
    tumbler = rng.random() < 0.2
    height = radius * (rng.uniform(2.5, 4.0) if tumbler else rng.uniform(1.2, 3.0))
    wall, floor = radius * rng.uniform(0.08, 0.2), radius * rng.uniform(0.1, 0.3)
    top_r = radius * rng.uniform(0.8, 1.25)
    shell = [
        (0, 0),
        (radius, 0),
        (top_r, height),
        (top_r - wall, height),
        (radius - wall, floor),
        (0, floor),
    ]
    parts = [lathe(shell)]
    if tumbler or rng.random() < 0.1:
        lid = [(0, 0), (top_r * 1.03, 0), (top_r * 0.8, radius * rng.uniform(0.1, 0.4))]
        parts.append(lathe([*lid, (0, lid[-1][1])], (0, height - 0.002, 0)))
    if rng.random() < (0.3 if tumbler else 0.9):
        side = rng.choice([-1.0, 1.0])
        span, mid = height * rng.uniform(0.4, 0.8), height * rng.uniform(0.45, 0.6)
        parts += _handle(rng, side * radius * 0.9, (mid - span / 2, mid + span / 2), radius)
    return parts
