"""Helpers shared by the reliability tests: a tiny in-test source, file snapshots, a cube."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from switchvae.data.pipeline.prepare import ItemSpec, PrepareSettings

SETTINGS = PrepareSettings(resolution=8, num_views=2, image_size=16)


@dataclass(frozen=True)
class BoxSource:
    """Item k: a box of size 1 + k % 8; an item listed in ``bad`` raises its exception."""

    count: int = 6
    bad: tuple[tuple[int, Exception], ...] = ()
    name: str = "boxes"

    def classes(self) -> list[str]:
        return ["even", "odd"]

    def items(self) -> list[ItemSpec]:
        splits = ["train", "train", "test"]
        return [ItemSpec(f"box_{k}", k % 2, splits[k % 3], k) for k in range(self.count)]

    def channels(self, settings: PrepareSettings) -> int:
        return 1

    def build(self, item: ItemSpec, settings: PrepareSettings):
        k = item.payload
        for index, error in self.bad:
            if index == k:
                raise error
        d, s = settings.resolution, settings.image_size
        grid = np.zeros((d, d, d), bool)
        grid[: 1 + k % d, :2, :2] = True
        return grid, np.full((settings.num_views, s, s, 1), k, np.uint8)

    def describe(self) -> dict:
        return {"name": self.name, "count": self.count, "bad": [k for k, _ in self.bad]}


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder (None) under ``folder``: proof nothing changed."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


CUBE_OFF = (
    "OFF\n8 6 0\n"
    + "".join(f"{x} {y} {z}\n" for x in (0, 1) for y in (0, 1) for z in (0, 1))
    + "4 0 1 3 2\n4 4 6 7 5\n4 0 4 5 1\n4 2 3 7 6\n4 0 2 6 4\n4 1 5 7 3\n"
)
