"""Source: the embedded procedural shape set (``switchvae prepare synthetic``)."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from switchvae.cli.args import positive_int
from switchvae.data.pipeline.pair import mesh_pair
from switchvae.data.sources.base import ItemSpec, PrepareSettings
from switchvae.data.sources.registry import SourceCommand
from switchvae.data.sources.synthetic_set import (
    SYNTHETIC_CLASSES,
    make_item_mesh,
    nearest_neighbour_accuracy,
    synthetic_items,
)
from switchvae.data.store import prepared as fmt

# The demo's default size: 60 shapes per class -> 42 train / 6 val / 12 test per class.
DEFAULT_SHAPES_PER_CLASS = 60


@dataclass(frozen=True)
class SyntheticSource:
    """Procedural meshes of everyday classes, deterministic from ``seed``."""

    shapes_per_class: int = DEFAULT_SHAPES_PER_CLASS
    seed: int = 0
    name: str = "synthetic"

    def classes(self) -> list[str]:
        return list(SYNTHETIC_CLASSES)

    def items(self) -> list[ItemSpec]:
        return [
            ItemSpec(item.item_id, item.label, item.split, item)
            for item in synthetic_items(self.shapes_per_class, self.seed)
        ]

    def channels(self, settings: PrepareSettings) -> int:
        return 3 if settings.color else 1

    def build(self, item: ItemSpec, settings: PrepareSettings) -> tuple[np.ndarray, np.ndarray]:
        return mesh_pair(make_item_mesh(item.payload), settings, up_axis="y")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "shapes_per_class": self.shapes_per_class, "seed": self.seed}

    def stats(self, root: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        """1-NN accuracy on raw voxels (Hamming), train -> test: how hard the set is."""
        grids = {}
        for split in ("train", "test"):
            packed = np.load(root / split / fmt.VOXELS_FILE, mmap_mode="r")
            labels = np.load(root / split / fmt.LABELS_FILE)
            res = manifest["resolution"]
            grids[split] = (np.stack([fmt.unpack_voxels(p, res) for p in packed]), labels)
        if not len(grids["train"][1]) or not len(grids["test"][1]):
            return {}
        accuracy = nearest_neighbour_accuracy(*grids["train"], *grids["test"])
        return {"voxel_1nn_test_accuracy": float(accuracy)}


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--shapes-per-class", type=positive_int, default=DEFAULT_SHAPES_PER_CLASS)


def _from_args(args: Namespace) -> SyntheticSource:
    return SyntheticSource(args.shapes_per_class, args.seed)


COMMAND = SourceCommand(
    name="synthetic",
    help="the embedded procedural shape set",
    add_arguments=_add_arguments,
    build=_from_args,
    order=0,
)
