"""Source: any folder of meshes, one sub-folder per class (``switchvae prepare meshes``).

Layout: ``<root>/<class>/**/<name>.<ext>`` with ``ext`` one of
:data:`switchvae.data.geometry.mesh.MESH_FORMATS` (searched recursively inside each class folder).
Classes are the class folders in alphabetical order. A root without class folders is one
class named after the root. Hidden files and folders (starting with ".") are ignored.

Splits are drawn per class (stratified) by a seed-stable hash of each file's path relative
to the root (:mod:`.holdout`): ``test_fraction`` of each class to test, ``val_fraction``
to val, the rest to train; adding files to a class moves few others. Meshes go through the
shared mesh path (:func:`switchvae.data.pipeline.pair.mesh_pair`) with the given up axis.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from switchvae.cli.args import fraction
from switchvae.data.geometry.mesh import MESH_FORMATS, UP_AXES, load_mesh
from switchvae.data.pipeline.pair import mesh_pair
from switchvae.data.sources.base import ItemSpec, PrepareSettings
from switchvae.data.sources.holdout import check_fraction, stratified_assign
from switchvae.data.sources.registry import SourceCommand
from switchvae.errors import ConfigError, DataError

DEFAULT_VAL_FRACTION = 0.1
DEFAULT_TEST_FRACTION = 0.2


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _mesh_files(folder: Path, root: Path, recursive: bool) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in pattern
        if p.suffix.lower().lstrip(".") in MESH_FORMATS and p.is_file() and not _is_hidden(p, root)
    )


@dataclass(frozen=True)
class MeshFolderSource:
    """Meshes in class folders (see the module docstring).

    Attributes:
        root: the folder holding one sub-folder per class.
        val_fraction, test_fraction: shares of each class held out, in [0, 1), sum < 1.
        seed: seed of the split.
        up_axis: the meshes' up axis, "y" (ShapeNet-like, default) or "z" (ModelNet-like).
    """

    root: Path
    val_fraction: float = DEFAULT_VAL_FRACTION
    test_fraction: float = DEFAULT_TEST_FRACTION
    seed: int = 0
    up_axis: str = "y"
    name: str = "meshes"

    def __post_init__(self) -> None:
        check_fraction(self.val_fraction, "val_fraction")
        check_fraction(self.test_fraction, "test_fraction")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g}; "
                "they must leave some meshes for training (sum < 1)"
            )
        if self.up_axis not in UP_AXES:
            raise DataError(f"up_axis={self.up_axis!r}; use one of {UP_AXES}")
        if not Path(self.root).is_dir():
            raise DataError(f"{self.root}: mesh folder not found; pass a folder of class folders")

    def _class_folders(self) -> list[Path]:
        root = Path(self.root)
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        with_meshes = [f for f in folders if _mesh_files(f, root, recursive=True)]
        if with_meshes:
            return with_meshes
        if _mesh_files(root, root, recursive=False):
            return [root]
        formats = ", ".join("." + f for f in MESH_FORMATS)
        raise DataError(f"{root}: no mesh files ({formats}) in it or its class folders")

    def classes(self) -> list[str]:
        return [folder.name for folder in self._class_folders()]

    def mesh_files(self) -> list[tuple[int, str]]:
        """(label, path relative to root) of every mesh, by class then path."""
        root = Path(self.root)
        found = []
        for label, folder in enumerate(self._class_folders()):
            recursive = folder != root
            for path in _mesh_files(folder, root, recursive):
                found.append((label, path.relative_to(root).as_posix()))
        return found

    def items(self) -> list[ItemSpec]:
        files = self.mesh_files()
        splits = stratified_assign(
            [rel for _, rel in files],
            [label for label, _ in files],
            [("test", self.test_fraction), ("val", self.val_fraction)],
            "train",
            self.seed,
        )
        return [
            ItemSpec(rel, label, split, rel)
            for (label, rel), split in zip(files, splits, strict=True)
        ]

    def channels(self, settings: PrepareSettings) -> int:
        return 3 if settings.color else 1

    def build(self, item: ItemSpec, settings: PrepareSettings) -> tuple[np.ndarray, np.ndarray]:
        return mesh_pair(load_mesh(Path(self.root) / item.payload), settings, up_axis=self.up_axis)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "root": str(Path(self.root).resolve()),
            "class_order": "alphabetical class folder names",
            "files": len(self.mesh_files()),
            "up_axis": self.up_axis,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
            "split": "per class, by a seed-stable hash of each file's relative path",
        }


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--root", required=True, type=Path, help="the folder of class folders")
    parser.add_argument("--val-fraction", type=fraction, default=DEFAULT_VAL_FRACTION)
    parser.add_argument("--test-fraction", type=fraction, default=DEFAULT_TEST_FRACTION)
    parser.add_argument("--up-axis", choices=("y", "z"), default="y", help="the meshes' up axis")


def _from_args(args: Namespace) -> MeshFolderSource:
    return MeshFolderSource(
        args.root, args.val_fraction, args.test_fraction, args.seed, args.up_axis
    )


COMMAND = SourceCommand(
    name="meshes",
    help="a folder of meshes, one sub-folder per class",
    description="Any meshes (.off .obj .ply .stl .glb .gltf) in class folders; splits drawn "
    "per class by a hash of the file path and --seed.",
    add_arguments=_add_arguments,
    build=_from_args,
    order=4,
)
