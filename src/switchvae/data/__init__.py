"""Data side: meshes -> voxels + views, the synthetic shape set, the prepared format.

Names are imported lazily (trimesh and friends load only when used).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "load_mesh": "switchvae.data.geometry.mesh",
    "normalize_mesh": "switchvae.data.geometry.mesh",
    "voxelize_mesh": "switchvae.data.geometry.voxelize",
    "render_views": "switchvae.data.geometry.render",
    "voxels_to_mesh": "switchvae.data.geometry.render",
    "camera_poses": "switchvae.data.geometry.render",
    "read_binvox": "switchvae.data.geometry.binvox",
    "write_binvox": "switchvae.data.geometry.binvox",
    "load_prepared": "switchvae.data.store.prepared",
    "PreparedDataset": "switchvae.data.store.prepared",
    "Sample": "switchvae.data.store.prepared",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'switchvae.data' has no attribute {name!r}")
