"""Source: ModelNet10 / ModelNet40 in the official layout (``switchvae prepare modelnet``).

Layout (Wu et al., 3D ShapeNets, CVPR 2015; the Princeton ModelNet zip files):
``<root>/<class>/{train,test}/<class>_<nnnn>.off``. Classes are the class folders in
alphabetical order (the order every ModelNet paper's label ids use); train and test come
from the folders; a validation split can be carved from train per class
(``val_fraction``, default 0: the prepared train split is the official one, so numbers stay
comparable with published ones).

Meshes are z-up (``MODELNET_UP``) and go through the shared mesh path
(:func:`switchvae.data.pipeline.pair.mesh_pair`); malformed ``OFF<n> <m> 0`` first lines are
repaired by :func:`switchvae.data.geometry.mesh.load_mesh`. ``.binvox`` files in the same layout
(binvox run on the OFF meshes: read_binvox's (x, y, z) is the mesh frame, z up) are taken
as voxels: rotated to y up like the meshes, resampled to the prepared resolution when their
side differs, placement kept, views rendered from the grid. With both files for one shape,
``input_kind="auto"`` takes the mesh.
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from switchvae.cli.args import fraction
from switchvae.data.geometry.binvox import read_binvox
from switchvae.data.geometry.mesh import MODELNET_UP, UP_AXES, load_mesh
from switchvae.data.geometry.resample import conform_grid
from switchvae.data.pipeline.pair import grid_pair, mesh_pair
from switchvae.data.sources.base import ItemSpec, PrepareSettings
from switchvae.data.sources.holdout import carve_validation, check_fraction
from switchvae.data.sources.registry import SourceCommand
from switchvae.errors import DataError

log = logging.getLogger(__name__)

MODELNET_SPLIT_FOLDERS = ("train", "test")  # official layout: <class>/train, <class>/test
MESH_SUFFIX = ".off"
VOXEL_SUFFIX = ".binvox"
INPUT_KINDS = ("auto", "off", "binvox")


class ExpectedCounts(NamedTuple):
    """Size of a complete ModelNet release."""

    classes: int
    train: int
    test: int


# Files in the official Princeton zips (the counts MVCNN, PointNet and others report).
MODELNET_EXPECTED = {
    "ModelNet10": ExpectedCounts(classes=10, train=3991, test=908),
    "ModelNet40": ExpectedCounts(classes=40, train=9843, test=2468),
}


class ShapeFile(NamedTuple):
    """One shape found on disk."""

    label: int
    split: str
    stem: str
    path: str
    kind: str  # "off" or "binvox"


def _pick(files: list[Path], input_kind: str) -> Path | None:
    """The file to use for one shape stem among its .off / .binvox files."""
    by_kind = {p.suffix.lower(): p for p in files}
    order = {"auto": (MESH_SUFFIX, VOXEL_SUFFIX), "off": (MESH_SUFFIX,), "binvox": (VOXEL_SUFFIX,)}
    return next((by_kind[s] for s in order[input_kind] if s in by_kind), None)


@dataclass(frozen=True)
class ModelNetSource:
    """ModelNet in the official folder layout (see the module docstring).

    Attributes:
        root: the ModelNet10 or ModelNet40 folder (holding the class folders).
        val_fraction: share of each class's train files held out as validation.
        seed: seed of that hold-out (see :mod:`.holdout`).
        input_kind: "auto" (mesh, else binvox), "off" or "binvox": which files to take.
        up_axis: up axis of the files; ModelNet is z-up.
    """

    root: Path
    val_fraction: float = 0.0
    seed: int = 0
    input_kind: str = "auto"
    up_axis: str = MODELNET_UP
    name: str = "modelnet"

    def __post_init__(self) -> None:
        check_fraction(self.val_fraction, "val_fraction")
        if self.input_kind not in INPUT_KINDS:
            raise DataError(f"input_kind={self.input_kind!r}; use one of {INPUT_KINDS}")
        if self.up_axis not in UP_AXES:
            raise DataError(f"up_axis={self.up_axis!r}; use one of {UP_AXES}")
        if not Path(self.root).is_dir():
            raise DataError(
                f"{self.root}: ModelNet folder not found; pass ModelNet10 or ModelNet40"
            )

    def classes(self) -> list[str]:
        root = Path(self.root)
        names = sorted(
            p.name
            for p in root.iterdir()
            if p.is_dir() and any((p / s).is_dir() for s in MODELNET_SPLIT_FOLDERS)
        )
        if not names:
            raise DataError(
                f"{root}: no <class>/train or <class>/test folders; pass the ModelNet10 or "
                "ModelNet40 folder of the official release"
            )
        return names

    def shape_files(self) -> list[ShapeFile]:
        """Every shape on disk, by class then split folder then file name."""
        found = []
        for label, name in enumerate(self.classes()):
            for split in MODELNET_SPLIT_FOLDERS:
                folder = Path(self.root) / name / split
                stems: dict[str, list[Path]] = {}
                candidates = sorted(folder.iterdir()) if folder.is_dir() else []
                for path in candidates:
                    if path.suffix.lower() in (MESH_SUFFIX, VOXEL_SUFFIX) and path.is_file():
                        stems.setdefault(path.stem, []).append(path)
                for stem, files in stems.items():
                    chosen = _pick(files, self.input_kind)
                    if chosen is not None:
                        kind = chosen.suffix.lower().lstrip(".")
                        found.append(ShapeFile(label, split, stem, str(chosen), kind))
        return found

    def items(self) -> list[ItemSpec]:
        files = self.shape_files()
        self._check_counts(files)
        names = self.classes()
        items = [
            ItemSpec(f"{names[f.label]}/{f.stem}", f.label, f.split, (f.path, f.kind))
            for f in files
        ]
        return carve_validation(items, self.val_fraction, self.seed)

    def _check_counts(self, files: list[ShapeFile]) -> None:
        expected = MODELNET_EXPECTED.get(Path(self.root).name)
        if expected is None or len(self.classes()) != expected.classes:
            return
        found = {s: sum(f.split == s for f in files) for s in MODELNET_SPLIT_FOLDERS}
        if (found["train"], found["test"]) != (expected.train, expected.test):
            log.warning(
                "%s: found %d train / %d test shapes, the official %s has %d / %d; "
                "is the copy incomplete?",
                self.root,
                found["train"],
                found["test"],
                Path(self.root).name,
                expected.train,
                expected.test,
            )

    def channels(self, settings: PrepareSettings) -> int:
        return 3 if settings.color else 1

    def build(self, item: ItemSpec, settings: PrepareSettings) -> tuple[np.ndarray, np.ndarray]:
        path, kind = item.payload
        if kind == "binvox":
            grid = conform_grid(read_binvox(path), settings.resolution, self.up_axis)
            return grid_pair(grid, settings)
        return mesh_pair(load_mesh(path), settings, up_axis=self.up_axis)

    def describe(self) -> dict[str, Any]:
        files = self.shape_files()
        return {
            "name": self.name,
            "root": str(Path(self.root).resolve()),
            "release": Path(self.root).name,
            "class_order": "alphabetical class folder names",
            "up_axis": self.up_axis,
            "input": self.input_kind,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "files": {s: sum(f.split == s for f in files) for s in MODELNET_SPLIT_FOLDERS},
            "binvox_files": sum(f.kind == "binvox" for f in files),
            "binvox_voxels": "binvox (x, y, z) = mesh frame; rotated to y up, resampled to "
            "the manifest resolution when the side differs, placement kept",
        }


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--root", required=True, type=Path, help="the ModelNet10 or ModelNet40 folder"
    )
    parser.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.0,
        help="share of each class's train shapes held out as val (default 0: official train)",
    )
    parser.add_argument(
        "--input",
        choices=INPUT_KINDS,
        default="auto",
        help="which files to read (auto: the .off mesh, else the .binvox grid)",
    )
    parser.add_argument("--up-axis", choices=("y", "z"), default="z", help="default z (ModelNet)")


def _from_args(args: Namespace) -> ModelNetSource:
    return ModelNetSource(args.root, args.val_fraction, args.seed, args.input, args.up_axis)


COMMAND = SourceCommand(
    name="modelnet",
    help="ModelNet10/40 in the official <class>/{train,test}/*.off layout",
    description="ModelNet (z-up OFF meshes, or .binvox grids in the same layout). Classes "
    "in alphabetical order, train/test from the folders.",
    add_arguments=_add_arguments,
    build=_from_args,
    order=2,
)
