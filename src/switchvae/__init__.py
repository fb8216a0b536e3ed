"""switchvae: 3D shape latents from paired voxels and multi-view images (SwitchVAE).

Public entry points are re-exported lazily so that ``import switchvae`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "SwitchVAE": "switchvae.model.switchvae",
    "load_prepared": "switchvae.data.store.prepared",
}

__all__ = ["SwitchVAE", "__version__", "load_prepared"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'switchvae' has no attribute {name!r}")
