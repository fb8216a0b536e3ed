"""Seating classes: chair, sofa, bench.

They share seats, backrests, armrests and bases, so that they overlap the way real ones
do: lounge chairs are one-seat sofas, settees are benches with a cushion, backed benches
are wide chairs. Sizes are in metres; front faces +z, so backs sit at -z.
"""

from __future__ import annotations

import numpy as np
import trimesh

from switchvae.data.sources.shapes.parts import (
    block,
    disk,
    leg_positions,
    legs,
    rod,
    slab,
    star_base,
    stretchers,
)

Parts = list[trimesh.Trimesh]
Rng = np.random.Generator

BACK_STYLES = ("panel", "slats", "rails", "frame")
BACK_STYLE_P = (0.45, 0.2, 0.2, 0.15)
SEAT_BASES = ("legs", "pedestal", "sled", "panels")
SEAT_BASE_P = (0.6, 0.15, 0.1, 0.15)
CHAIR_KINDS = ("chair", "lounge", "stool")
CHAIR_KIND_P = (0.79, 0.15, 0.06)
SOFA_SEAT_WIDTH = 1.2
"""Sofas narrower than this (metres) are one-seat armchairs."""


def _backrest(rng: Rng, width: float, bottom: float, top: float, z: float) -> Parts:
    """Back of a chair or bench: solid panel, vertical slats, horizontal rails or a frame."""
    thick = rng.uniform(0.025, 0.07)
    lean = -rng.uniform(0.0, 0.15) * (top - bottom)
    x = (-width / 2, width / 2)
    style = rng.choice(BACK_STYLES, p=BACK_STYLE_P)
    if style == "panel":
        low = bottom + (top - bottom) * rng.uniform(0.0, 0.4) * (rng.random() < 0.4)
        return [slab(x, (low, top), z, thick, lean)]
    post = rng.uniform(0.025, 0.05)
    parts = [slab((sx - post / 2, sx + post / 2), (bottom, top), z, post, lean) for sx in x]
    rail = rng.uniform(0.04, 0.12)
    count = int(rng.integers(2, 6)) if style != "frame" else 1
    if style == "rails":
        for rail_top in np.linspace(top, bottom + (top - bottom) * 0.4, count):
            shift = lean * (rail_top - bottom) / (top - bottom)
            parts.append(slab(x, (rail_top - rail, rail_top), z + shift, thick))
        return parts
    parts.append(slab(x, (top - rail, top), z + lean, thick))
    if style == "slats":
        for sx in np.linspace(-width / 2, width / 2, count + 2)[1:-1]:
            parts.append(slab((sx - post / 2, sx + post / 2), (bottom, top), z, thick, lean))
    return parts


def _armrests(rng: Rng, width: float, depth: float, seat: float, solid: bool) -> Parts:
    """Two armrests beside a seat: bars on front posts, or solid side panels."""
    height = seat + rng.uniform(0.15, 0.28)
    arm = rng.uniform(0.04, 0.1)
    z = (-depth / 2, depth / 2)
    parts: Parts = []
    for side in (-1, 1):
        x = side * (width / 2 + arm / 2)
        span = (x - arm / 2, x + arm / 2)
        if solid:
            parts.append(block(span, (0.0, height), z))
            continue
        parts.append(block(span, (height - 0.04, height), z))
        parts.append(rod((x, seat, depth * 0.4), (x, height, depth * 0.4), arm / 3))
    return parts


def _seat_base(rng: Rng, width: float, depth: float, top: float, long: bool) -> Parts:
    """What holds a seat up: legs (maybe with stretchers), a star pedestal, sled runners
    or side panels; ``long`` seats (benches) get no pedestal and 6 legs when wide."""
    kind = rng.choice(SEAT_BASES, p=SEAT_BASE_P)
    if long and kind == "pedestal":
        kind = "legs"
    thick = rng.uniform(0.03, 0.06)
    if kind == "pedestal":
        return star_base(rng, min(width, depth) * rng.uniform(0.4, 0.6), top, thick)
    inset = rng.uniform(0.0, 0.1)
    if kind in ("sled", "panels"):
        parts: Parts = []
        for sx in (-1, 1):
            x = sx * width * (1 - inset) / 2
            if kind == "panels":
                parts.append(
                    block((x - thick / 2, x + thick / 2), (0, top), (-depth / 2, depth / 2))
                )
                continue
            parts.append(rod((x, thick / 2, -depth / 2), (x, thick / 2, depth / 2), thick / 2))
            parts += [
                rod((x, 0, s * depth * 0.4), (x, top, s * depth * 0.4), thick / 2) for s in (-1, 1)
            ]
        return parts
    count = 6 if long and width > 1.4 else 4
    positions = leg_positions(width * (1 - inset), depth * (1 - inset), count)
    parts = legs(positions, (0, top), thick, rng.random() < 0.5, rng.uniform(0, 0.1))
    if rng.random() < 0.3:
        parts += stretchers(positions[:4], top * rng.uniform(0.2, 0.4), thick / 3)
    return parts


def _stool(rng: Rng) -> Parts:
    """Bar or kitchen stool: round seat on 3-4 splayed legs with a foot ring."""
    radius, seat = rng.uniform(0.15, 0.22), rng.uniform(0.45, 0.8)
    positions = leg_positions(radius * 1.3, radius * 1.3, int(rng.integers(3, 5)), np.pi / 4)
    parts = [disk(radius, (seat - 0.04, seat))]
    parts += legs(positions, (0, seat - 0.04), 0.03, False, splay=0.2)
    return parts + stretchers(positions * 1.15, seat * 0.3, 0.012)


def _upholstered(rng: Rng, width: float, depth: float, seats: int) -> Parts:
    """Upholstered seat (sofa or club chair): base block, cushions, back, arms, chaise."""
    seat, leg = rng.uniform(0.35, 0.48), rng.uniform(0.03, 0.25) * (rng.random() < 0.6)
    cushion = rng.uniform(0.06, 0.18)
    arm = rng.uniform(0.08, 0.25) * (rng.random() < 0.8)
    inner, z = width / 2 - arm, (-depth / 2, depth / 2)
    parts = [block((-inner, inner), (leg, seat - cushion), z)]
    edges = np.linspace(-inner, inner, seats + 1)
    parts += [
        block((a, b), (seat - cushion, seat), z) for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    back_t = rng.uniform(0.1, 0.3)
    back_top = seat + rng.uniform(0.2, 0.55)
    back_lean = -rng.uniform(0, 0.1)
    parts.append(
        slab((-width / 2, width / 2), (leg, back_top), z[0] + back_t / 2, back_t, back_lean)
    )
    if arm > 0:
        arm_top = seat + rng.uniform(0.0, 0.28)
        parts += [block(sorted((sx * inner, sx * width / 2)), (leg, arm_top), z) for sx in (-1, 1)]
    if seats > 1 and rng.random() < 0.2:
        x0 = inner - min(rng.uniform(0.5, 0.8), inner)
        parts.append(block((x0, inner), (leg, seat), (z[1] - 0.05, z[1] + rng.uniform(0.5, 0.8))))
    if leg > 0:
        parts += legs(leg_positions(width * 0.9, depth * 0.9, 4), (0, leg), 0.05, True)
    return parts


def _settee(rng: Rng, width: float, depth: float) -> Parts:
    """Frame sofa: thick cushion on legs, upholstered back, open or panel arms."""
    seat, cushion = rng.uniform(0.38, 0.48), rng.uniform(0.12, 0.25)
    bottom = seat - cushion
    parts = [block((-width / 2, width / 2), (bottom, seat), (-depth / 2, depth / 2))]
    parts += legs(leg_positions(width * 0.95, depth * 0.9, 4), (0, bottom), 0.05, True, 0.05)
    back_t = rng.uniform(0.08, 0.2)
    top = seat + rng.uniform(0.3, 0.5)
    parts.append(
        slab((-width / 2, width / 2), (bottom, top), -depth / 2 + back_t / 2, back_t, -0.05)
    )
    return parts + _armrests(rng, width, depth, seat, solid=rng.random() < 0.4)


def chair(rng: Rng) -> Parts:
    """Dining/office chair (seat, base, back, optional arms), lounge chair or stool."""
    kind = rng.choice(CHAIR_KINDS, p=CHAIR_KIND_P)
    if kind == "lounge":
        return _upholstered(rng, rng.uniform(0.6, 1.0), rng.uniform(0.6, 0.95), seats=1)
    if kind == "stool":
        return _stool(rng)
    width, depth = rng.uniform(0.38, 0.62), rng.uniform(0.38, 0.62)
    seat, thick = rng.uniform(0.38, 0.5), rng.uniform(0.03, 0.1)
    parts = [block((-width / 2, width / 2), (seat - thick, seat), (-depth / 2, depth / 2))]
    parts += _seat_base(rng, width, depth, seat - thick, long=False)
    parts += _backrest(rng, width, seat, seat + rng.uniform(0.25, 0.65), -depth / 2 + 0.02)
    if rng.random() < 0.35:
        parts += _armrests(rng, width, depth, seat, solid=rng.random() < 0.25)
    return parts


def sofa(rng: Rng) -> Parts:
    """Armchair, loveseat, sofa or sectional; one in five is a wooden-frame settee."""
    width, depth = rng.uniform(0.85, 2.8), rng.uniform(0.7, 1.1)
    if rng.random() < 0.2:
        return _settee(rng, width, depth * 0.8)
    seats = 1 if width < SOFA_SEAT_WIDTH else int(rng.integers(1, 4))
    return _upholstered(rng, width, depth, seats)


def bench(rng: Rng) -> Parts:
    """Long seat (boards, a plank or a padded block) on legs or end panels, optional back."""
    length, depth = rng.uniform(0.6, 2.0), rng.uniform(0.3, 0.55)
    seat, thick = rng.uniform(0.4, 0.5), rng.uniform(0.03, 0.08)
    x = (-length / 2, length / 2)
    if rng.random() < 0.12:
        leg = rng.uniform(0.05, 0.25)
        parts = [block(x, (leg, seat), (-depth / 2, depth / 2))]
        return parts + legs(leg_positions(length * 0.9, depth * 0.8, 4), (0, leg), 0.05, True)
    boards = int(rng.integers(1, 5))
    edges = np.linspace(-depth / 2, depth / 2, boards + 1)
    gap = (depth / boards) * 0.15 * (boards > 1)
    parts = [
        block(x, (seat - thick, seat), (a, b - gap))
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    parts += _seat_base(rng, length * rng.uniform(0.8, 1.0), depth, seat - thick, long=True)
    if rng.random() < 0.4:
        parts += _backrest(rng, length, seat, seat + rng.uniform(0.25, 0.45), -depth / 2 + 0.02)
        if rng.random() < 0.5:
            parts += _armrests(rng, length, depth, seat, solid=False)
    return parts
