"""``switchvae prepare SOURCE ...`` and ``switchvae merge``: a shape source -> a prepared dataset.

The ``prepare`` sub-commands come from the source registry
(:func:`switchvae.data.sources.registry.source_commands`): each source module declares its
own options and how to build the source; this module adds the options every source shares
and runs the pipeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from switchvae.cli.args import default_workers, positive_int
from switchvae.data.sources.registry import SourceCommand, source_commands


def add_prepare_settings(parser: argparse.ArgumentParser) -> None:
    """Options shared by every `prepare` source."""
    group = parser.add_argument_group("grid and views")
    group.add_argument("--out", required=True, type=Path, help="output dataset directory")
    group.add_argument("--resolution", type=positive_int, default=32, help="voxel grid side D")
    group.add_argument("--views", type=positive_int, default=12, help="rendered views per shape")
    group.add_argument("--image-size", type=positive_int, default=64, help="view side in pixels")
    group.add_argument("--color", action="store_true", help="render RGB instead of gray")
    group.add_argument(
        "--camera",
        choices=("ring", "random"),
        default="ring",
        help="MVCNN ring at 30 degrees elevation (default) or random views",
    )
    group.add_argument("--backend", choices=("auto", "embree", "torch"), default="auto")
    group.add_argument("--seed", type=int, default=0, help="seed of everything random")
    group.add_argument("--workers", type=positive_int, default=default_workers())
    group.add_argument("--chunk-size", type=positive_int, default=16, help=argparse.SUPPRESS)
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing dataset made with other settings (once the new one is done)",
    )
    group.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    group.add_argument(
        "--shard",
        metavar="I/N",
        default=None,
        help="prepare only slice I of N (0-based), e.g. for a cluster array job; "
        "combine the slices with `switchvae merge`",
    )


def settings_from(args: argparse.Namespace):
    """The :class:`~switchvae.data.sources.base.PrepareSettings` the arguments name."""
    from switchvae.data.sources.base import PrepareSettings

    return PrepareSettings(
        resolution=args.resolution,
        num_views=args.views,
        image_size=args.image_size,
        color=args.color,
        views=args.camera,
        backend=args.backend,
        seed=args.seed,
    )


def run_prepare(source, args: argparse.Namespace) -> int:
    """Prepare ``source`` into ``args.out``; print what was written and how hard it is."""
    from switchvae.data.pipeline.prepare import prepare_dataset
    from switchvae.data.pipeline.shard import parse_shard

    result = prepare_dataset(
        source,
        args.out,
        settings_from(args),
        workers=args.workers,
        chunk_size=args.chunk_size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        shard=parse_shard(args.shard) if args.shard else None,
    )
    sizes = ", ".join(f"{k} {v}" for k, v in result.split_sizes.items())
    verb = "already prepared, reused" if result.reused else "prepared"
    print(f"{verb}: {result.path} ({sizes}; skipped {result.skipped})")
    if "voxel_1nn_test_accuracy" in result.stats:
        accuracy = 100 * result.stats["voxel_1nn_test_accuracy"]
        print(
            f"difficulty: 1-nearest-neighbour on raw voxels (Hamming), test accuracy {accuracy:.1f}%"
        )
    return 0


def _runner(command: SourceCommand):
    def run(args: argparse.Namespace) -> int:
        return run_prepare(command.build(args), args)

    return run


def add_source_parsers(sources_subparsers) -> None:
    """One ``prepare`` sub-command per registered source, each with the shared options."""
    for command in source_commands():
        parser = sources_subparsers.add_parser(
            command.name, help=command.help, description=command.description
        )
        command.add_arguments(parser)
        add_prepare_settings(parser)
        parser.set_defaults(**command.defaults, func=_runner(command))


def add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``switchvae merge --out DIR SHARD_DIR...``."""
    parser.add_argument("shards", nargs="+", type=Path, metavar="SHARD_DIR", help="all shards")
    parser.add_argument("--out", required=True, type=Path, help="merged dataset directory")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing dataset made from another plan (once the merge is done)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_merge(args: argparse.Namespace) -> int:
    """Check the shards of one sharded prepare run and merge them into ``--out``."""
    from switchvae.data.pipeline.shard import merge_shards

    result = merge_shards(args.shards, args.out, args.overwrite, progress=not args.no_progress)
    sizes = ", ".join(f"{k} {v}" for k, v in result.split_sizes.items())
    verb = "already merged, reused" if result.reused else f"merged {len(args.shards)} shards"
    print(f"{verb}: {result.path} ({sizes}; skipped {result.skipped})")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``prepare`` (one sub-command per source) and ``merge``."""
    prepare = commands.add_parser("prepare", help="turn a shape source into a prepared dataset")
    add_source_parsers(prepare.add_subparsers(dest="source", metavar="SOURCE", required=True))
    merge = commands.add_parser("merge", help="combine `prepare --shard I/N` slices")
    add_merge_arguments(merge)
    merge.set_defaults(func=run_merge)
