"""Geometry: meshes and grids in the canonical frame, and the pictures of them.

``mesh`` (load, check, normalize to the canonical frame: y up, inside [-0.5, 0.5]^3),
``voxelize`` (solid occupancy grids), ``render`` (the view ring, two backends) with its
``camera`` and ``raster`` (the torch rasterizer), ``resample`` (grid side and up-axis
changes) and ``binvox`` (the .binvox grid format). Nothing here knows about datasets.
"""
