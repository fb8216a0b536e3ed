"""The contract between the prepare pipeline and a data source.

A source lists :class:`ItemSpec` items and builds each one's (voxels, views) pair under
the :class:`PrepareSettings`; ``switchvae.data.pipeline.prepare`` does everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from switchvae.errors import DataError
from switchvae.limits import MAX_IMAGE_SIZE, MAX_VIEWS


@dataclass(frozen=True)
class PrepareSettings:
    """Grid and camera settings shared by every source.

    Attributes:
        resolution: voxel grid side D.
        num_views: rendered views per shape (MVCNN ring: 12).
        image_size: rendered image side H = W in pixels.
        color: render RGB (C=3) instead of gray (C=1).
        views: "ring" (MVCNN: every 360/V degrees at ``elevation_deg``) or "random".
        elevation_deg: camera elevation of the ring (MVCNN: 30 degrees).
        backend: renderer backend, "auto" | "embree" | "torch".
        seed: seed of everything random in preparation (random views, synthetic shapes).
    """

    resolution: int = 32
    num_views: int = 12
    image_size: int = 64
    color: bool = False
    views: str = "ring"
    elevation_deg: float = 30.0
    backend: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "resolution": self.resolution >= 8 and self.resolution % 8 == 0,
            "num_views": 1 <= self.num_views <= MAX_VIEWS,
            "image_size": 16 <= self.image_size <= MAX_IMAGE_SIZE,
            "views": self.views in ("ring", "random"),
            "backend": self.backend in ("auto", "embree", "torch"),
        }
        for name, ok in checks.items():
            if not ok:
                value = getattr(self, name)
                limit = {
                    "num_views": f" (1..{MAX_VIEWS})",
                    "image_size": f" (16..{MAX_IMAGE_SIZE})",
                }
                raise DataError(f"invalid prepare setting {name}={value!r}{limit.get(name, '')}")
        if self.resolution > 256:
            raise DataError(f"invalid prepare setting resolution={self.resolution} (max 256)")


@dataclass(frozen=True)
class ItemSpec:
    """One shape to prepare: its id, label, split and what the source needs to build it."""

    item_id: str
    label: int
    split: str
    payload: Any = None


def _escaped(text: str) -> str:
    """``text`` with lone surrogates (undecodable file-name bytes) as ``\\xNN`` escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def printable_ids(items: list[ItemSpec]) -> list[ItemSpec]:
    """The items, ids that hold undecodable file-name bytes written with ``\\xNN`` escapes.

    A file name that is not valid UTF-8 reaches Python with lone surrogates, which cannot
    be written to JSON or hashed as UTF-8; the payload keeps the real name, so the file is
    still read.
    """
    return [
        item
        if _escaped(item.item_id) == item.item_id
        else replace(item, item_id=_escaped(item.item_id))
        for item in items
    ]


class Source(Protocol):
    """What the pipeline needs from a data source (sources/*.py implement it)."""

    name: str

    def classes(self) -> list[str]:
        """Class names in label order."""

    def items(self) -> list[ItemSpec]:
        """Every item to prepare, in output order within each split."""

    def channels(self, settings: PrepareSettings) -> int:
        """Channels C of the stored views."""

    def build(self, item: ItemSpec, settings: PrepareSettings) -> tuple[np.ndarray, np.ndarray]:
        """Return (voxels bool (D, D, D), views uint8 (V, H, W, C)); raise DataError to skip."""

    def describe(self) -> dict[str, Any]:
        """JSON-able description of the source for the manifest."""
