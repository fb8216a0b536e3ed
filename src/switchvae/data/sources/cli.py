"""Command-line parsers of the real-data sources: ``switchvae prepare {shapenet-r2n2|modelnet|
voxels|meshes}``.

:func:`add_source_parsers` registers them on the ``prepare`` sub-parsers; each command
builds its source and hands it to ``switchvae.cli._run_prepare`` (imported when run, so
this module and ``switchvae.cli`` do not import each other at load time).
"""

from __future__ import annotations

import argparse
from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path

from switchvae.data.r2n2 import R2N2_IMAGE_SIZE, R2N2_NUM_RENDERINGS
from switchvae.data.sources.mesh_folder import DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION
from switchvae.errors import ConfigError


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {value}")
    return value


def _names(values: list[str] | None) -> tuple[str, ...] | None:
    """Names given as several arguments and/or comma-separated."""
    if not values:
        return None
    return tuple(n.strip() for v in values for n in v.split(",") if n.strip())


def _run(source, args: argparse.Namespace) -> int:
    from switchvae.cli import _run_prepare

    return _run_prepare(source, args)


def cmd_prepare_shapenet_r2n2(args: argparse.Namespace) -> int:
    from switchvae.data.sources.shapenet_r2n2 import ShapeNetR2N2Source

    if args.image_size != R2N2_IMAGE_SIZE:
        raise ConfigError(
            f"--image-size {args.image_size}: shapenet-r2n2 keeps the original "
            f"{R2N2_IMAGE_SIZE}x{R2N2_IMAGE_SIZE} renders; leave --image-size out"
        )
    if args.views > R2N2_NUM_RENDERINGS:
        raise ConfigError(
            f"--views {args.views}: the 3D-R2N2 set has {R2N2_NUM_RENDERINGS} renders"
        )
    args.color = True  # the renders are RGB(A); recorded as such in the settings
    source = ShapeNetR2N2Source(args.voxels, args.renderings, args.split, _names(args.categories))
    return _run(source, args)


def cmd_prepare_modelnet(args: argparse.Namespace) -> int:
    from switchvae.data.sources.modelnet import ModelNetSource

    source = ModelNetSource(args.root, args.val_fraction, args.seed, args.input, args.up_axis)
    return _run(source, args)


def cmd_prepare_voxels(args: argparse.Namespace) -> int:
    from switchvae.data.sources.voxel_arrays import VoxelArraySource

    names = _names(args.classes)
    source = VoxelArraySource(args.npz, names, args.up_axis, args.val_fraction, args.seed)
    return _run(source, args)


def cmd_prepare_meshes(args: argparse.Namespace) -> int:
    from switchvae.data.sources.mesh_folder import MeshFolderSource

    source = MeshFolderSource(
        args.root, args.val_fraction, args.test_fraction, args.seed, args.up_axis
    )
    return _run(source, args)


def _add_r2n2(sources, add_settings: Callable[[ArgumentParser], None]) -> None:
    parser = sources.add_parser(
        "shapenet-r2n2",
        help="ShapeNetVox32 + ShapeNetRendering under the 3D-R2N2 split",
        description="The 3D-R2N2 ShapeNet set: its 32^3 voxels as stored and its own "
        f"{R2N2_NUM_RENDERINGS} renders ({R2N2_IMAGE_SIZE}x{R2N2_IMAGE_SIZE} RGBA, background "
        "filled when read). --views keeps the first V renders (default all 24); "
        "--image-size must stay 137; --color, --camera and --backend do not apply.",
    )  # fmt: skip
    parser.add_argument("--voxels", required=True, type=Path, help="the ShapeNetVox32 folder")
    parser.add_argument("--renderings", required=True, type=Path, help="the ShapeNetRendering folder")  # fmt: skip
    parser.add_argument(
        "--split", type=Path, default=None,
        help="the 3D-R2N2 ShapeNet.json (default: ShapeNet.json beside --voxels)",
    )  # fmt: skip
    parser.add_argument(
        "--categories", nargs="+", metavar="ID_OR_NAME",
        help="keep these categories (taxonomy ids or names, e.g. 03001627 or chair)",
    )  # fmt: skip
    add_settings(parser)
    parser.set_defaults(
        views=R2N2_NUM_RENDERINGS, image_size=R2N2_IMAGE_SIZE, func=cmd_prepare_shapenet_r2n2
    )


def _add_modelnet(sources, add_settings: Callable[[ArgumentParser], None]) -> None:
    parser = sources.add_parser(
        "modelnet",
        help="ModelNet10/40 in the official <class>/{train,test}/*.off layout",
        description="ModelNet (z-up OFF meshes, or .binvox grids in the same layout). Classes "
        "in alphabetical order, train/test from the folders.",
    )  # fmt: skip
    parser.add_argument("--root", required=True, type=Path, help="the ModelNet10 or ModelNet40 folder")  # fmt: skip
    parser.add_argument(
        "--val-fraction", type=_fraction, default=0.0,
        help="share of each class's train shapes held out as val (default 0: official train)",
    )  # fmt: skip
    parser.add_argument(
        "--input", choices=("auto", "off", "binvox"), default="auto",
        help="which files to read (auto: the .off mesh, else the .binvox grid)",
    )  # fmt: skip
    parser.add_argument("--up-axis", choices=("y", "z"), default="z", help="default z (ModelNet)")
    add_settings(parser)
    parser.set_defaults(func=cmd_prepare_modelnet)


def _add_voxels(sources, add_settings: Callable[[ArgumentParser], None]) -> None:
    parser = sources.add_parser(
        "voxels",
        help="occupancy grids from an .npz archive (X_train, y_train, X_test, y_test)",
        description="Grids X_<split> (N,D,D,D), (N,1,D,D,D) or (N,D,D,D,1), occupied >= 0.5; "
        "labels y_<split> or Y_<split>. Grids are rotated to y up, resampled to --resolution "
        "and rendered.",
    )  # fmt: skip
    parser.add_argument("--npz", required=True, type=Path, help="the archive")
    parser.add_argument(
        "--classes", nargs="+", metavar="NAME",
        help="class names in label order (a,b,c or a b c); default: the archive's class_names",
    )  # fmt: skip
    parser.add_argument("--up-axis", choices=("y", "z"), default="z", help="default z (ModelNet)")
    parser.add_argument(
        "--val-fraction", type=_fraction, default=0.0,
        help="share of each class of X_train held out as val when there is no X_val",
    )  # fmt: skip
    add_settings(parser)
    parser.set_defaults(func=cmd_prepare_voxels)


def _add_meshes(sources, add_settings: Callable[[ArgumentParser], None]) -> None:
    parser = sources.add_parser(
        "meshes",
        help="a folder of meshes, one sub-folder per class",
        description="Any meshes (.off .obj .ply .stl .glb .gltf) in class folders; splits drawn "
        "per class by a hash of the file path and --seed.",
    )  # fmt: skip
    parser.add_argument("--root", required=True, type=Path, help="the folder of class folders")
    parser.add_argument("--val-fraction", type=_fraction, default=DEFAULT_VAL_FRACTION)
    parser.add_argument("--test-fraction", type=_fraction, default=DEFAULT_TEST_FRACTION)
    parser.add_argument("--up-axis", choices=("y", "z"), default="y", help="the meshes' up axis")
    add_settings(parser)
    parser.set_defaults(func=cmd_prepare_meshes)


def add_source_parsers(sources_subparsers, add_settings: Callable[[ArgumentParser], None]) -> None:
    """Register the shapenet-r2n2, modelnet, voxels and meshes ``prepare`` sub-commands.

    Args:
        sources_subparsers: the ``prepare`` command's sub-parsers action.
        add_settings: adds the options shared by every source (``--out``, ``--resolution``,
            ``--views``, ...; ``switchvae.cli._add_prepare_settings``).
    """
    _add_r2n2(sources_subparsers, add_settings)
    _add_modelnet(sources_subparsers, add_settings)
    _add_voxels(sources_subparsers, add_settings)
    _add_meshes(sources_subparsers, add_settings)
