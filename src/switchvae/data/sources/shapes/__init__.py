"""Procedural shape generators of the synthetic set, one module per family of classes.

``parts`` is the part library (boxes, rods, slabs, lathes, legs, ...); ``seating``,
``furniture``, ``vessels`` and ``vehicles`` assemble parts into classes. Each generator
takes a ``numpy.random.Generator`` and returns a list of part meshes, y up, front +z.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import trimesh

from switchvae.data.sources.shapes.furniture import bed, desk, shelf, table
from switchvae.data.sources.shapes.seating import bench, chair, sofa
from switchvae.data.sources.shapes.vehicles import airplane, car
from switchvae.data.sources.shapes.vessels import bottle, lamp, mug

ShapeGenerator = Callable[[np.random.Generator], list[trimesh.Trimesh]]

CLASS_GENERATORS: dict[str, ShapeGenerator] = {
    "airplane": airplane,
    "bed": bed,
    "bench": bench,
    "bottle": bottle,
    "car": car,
    "chair": chair,
    "desk": desk,
    "lamp": lamp,
    "mug": mug,
    "shelf": shelf,
    "sofa": sofa,
    "table": table,
}
"""Class name -> generator, in label order (alphabetical)."""

__all__ = ["CLASS_GENERATORS", "ShapeGenerator"]
