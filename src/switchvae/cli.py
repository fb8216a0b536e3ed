"""Command line: parse arguments, call library functions, turn errors into exit codes.

Every command exits 0 on success; a problem the user can fix prints one line
``switchvae: error: ...`` on stderr and exits 2; an interrupted command exits 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from switchvae import __version__
from switchvae.cli_args import positive_int
from switchvae.errors import SwitchVAEError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("switchvae")


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _add_prepare_settings(parser: argparse.ArgumentParser) -> None:
    """Options shared by every `prepare` source."""
    group = parser.add_argument_group("grid and views")
    group.add_argument("--out", required=True, type=Path, help="output dataset directory")
    group.add_argument("--resolution", type=positive_int, default=32, help="voxel grid side D")
    group.add_argument("--views", type=positive_int, default=12, help="rendered views per shape")
    group.add_argument("--image-size", type=positive_int, default=64, help="view side in pixels")
    group.add_argument("--color", action="store_true", help="render RGB instead of gray")
    group.add_argument(
        "--camera", choices=("ring", "random"), default="ring",
        help="MVCNN ring at 30 degrees elevation (default) or random views",
    )  # fmt: skip
    group.add_argument("--backend", choices=("auto", "embree", "torch"), default="auto")
    group.add_argument("--seed", type=int, default=0, help="seed of everything random")
    group.add_argument("--workers", type=positive_int, default=_default_workers())
    group.add_argument("--chunk-size", type=positive_int, default=16, help=argparse.SUPPRESS)
    group.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing dataset made with other settings (once the new one is done)",
    )  # fmt: skip
    group.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    group.add_argument(
        "--shard", metavar="I/N", default=None,
        help="prepare only slice I of N (0-based), e.g. for a cluster array job; "
        "combine the slices with `switchvae merge`",
    )  # fmt: skip


def _settings_from(args: argparse.Namespace):
    from switchvae.data.prepare import PrepareSettings

    return PrepareSettings(
        resolution=args.resolution,
        num_views=args.views,
        image_size=args.image_size,
        color=args.color,
        views=args.camera,
        backend=args.backend,
        seed=args.seed,
    )


def _run_prepare(source, args: argparse.Namespace) -> int:
    from switchvae.data.prepare import prepare_dataset
    from switchvae.data.shard import parse_shard

    result = prepare_dataset(
        source,
        args.out,
        _settings_from(args),
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


def cmd_prepare_synthetic(args: argparse.Namespace) -> int:
    from switchvae.data.sources.synthetic import SyntheticSource

    return _run_prepare(SyntheticSource(args.shapes_per_class, args.seed), args)


def _demo_rows(result) -> list[tuple[str, float | None, float | None]]:
    """(label, trained value, untrained value) rows of the demo's summary."""
    from switchvae.evaluate.metrics import flatten_metrics

    trained = flatten_metrics(result.metrics)
    untrained = flatten_metrics(result.untrained_metrics)
    keys = [
        ("IoU from voxels", "reconstruction.voxel.mean_iou"),
        ("IoU from images", "reconstruction.image.mean_iou"),
        ("linear SVM, voxel latents", "classification.voxel.linear_svm.accuracy"),
        ("linear SVM, image latents", "classification.image.linear_svm.accuracy"),
        ("RBF SVM, voxel latents", "classification.voxel.rbf_svm.accuracy"),
        ("RBF SVM, image latents", "classification.image.rbf_svm.accuracy"),
        ("retrieval image->voxel top-1", "retrieval.image_to_voxel.top1"),
        ("retrieval image->voxel top-5", "retrieval.image_to_voxel.top5"),
    ]
    return [(label, trained.get(key), untrained.get(key)) for label, key in keys]


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job: synthetic set -> fit (cpu preset) -> evaluate -> report -> summary."""
    from switchvae.demo import run_demo

    result = run_demo(
        args.out,
        workers=args.workers,
        overrides=tuple(args.set),
        shapes_per_class=args.shapes_per_class,
        progress=not args.no_progress,
    )
    sizes = ", ".join(f"{k} {v}" for k, v in result.data.split_sizes.items())
    print(f"\nsynthetic shapes: {result.data.path} ({sizes})")
    if "voxel_1nn_test_accuracy" in result.data.stats:
        accuracy = 100 * result.data.stats["voxel_1nn_test_accuracy"]
        print(f"difficulty: 1-nearest-neighbour on raw voxels, test accuracy {accuracy:.1f}%")
    classes = len(result.metrics.get("data", {}).get("classes", [])) or None
    chance = f" (chance {100 / classes:.1f}%)" if classes else ""
    print(f"\n{'test split' + chance:<36} {'trained':>8} {'untrained':>10}")
    for label, trained, untrained in _demo_rows(result):
        t = "-" if trained is None else f"{100 * trained:.1f}%"
        u = "-" if untrained is None else f"{100 * untrained:.1f}%"
        print(f"{label:<36} {t:>8} {u:>10}")
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    print(f"\ntime: {timing}")
    chosen = result.precision
    if chosen:
        print(f"precision: {chosen['resolved']} ({chosen['reason']})")
    print(f"metrics: {result.run_dir / 'metrics.json'}")
    print(f"report:  {result.report}")
    return 0


def _report(message: str) -> int:
    """Print the first line of an error message on stderr; the rest only with --verbose."""
    first, *detail = message.strip().splitlines() or ["unknown error"]
    print(f"switchvae: error: {first}", file=sys.stderr)
    if detail:
        log.debug("details:\n%s", "\n".join(detail))
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchvae",
        description="SwitchVAE: 3D shape latents from paired voxels and multi-view images.",
    )
    parser.add_argument("--version", action="version", version=f"switchvae {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    prepare = commands.add_parser("prepare", help="turn a shape source into a prepared dataset")
    sources = prepare.add_subparsers(dest="source", metavar="SOURCE", required=True)
    synthetic = sources.add_parser("synthetic", help="the embedded procedural shape set")
    synthetic.add_argument("--shapes-per-class", type=positive_int, default=60)
    _add_prepare_settings(synthetic)
    synthetic.set_defaults(func=cmd_prepare_synthetic)
    from switchvae.data.sources.cli import add_source_parsers

    add_source_parsers(sources, _add_prepare_settings)

    from switchvae.data.cli import (
        add_download_arguments,
        add_merge_arguments,
        run_download,
        run_merge,
    )

    download = commands.add_parser("download", help="fetch ModelNet10/40 or ShapeNet-R2N2")
    add_download_arguments(download)
    download.set_defaults(func=run_download)
    merge = commands.add_parser("merge", help="combine `prepare --shard I/N` slices")
    add_merge_arguments(merge)
    merge.set_defaults(func=run_merge)

    from switchvae.train.cli import add_fit_arguments, run_fit

    fit = commands.add_parser("fit", help="train SwitchVAE (or a baseline) on a prepared dataset")
    add_fit_arguments(fit)
    fit.set_defaults(func=run_fit)

    from switchvae.evaluate.cli import add_evaluate_arguments, run_evaluate

    evaluate = commands.add_parser(
        "evaluate", help="IoU, SVM classification and retrieval -> RUN/metrics.json"
    )
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=run_evaluate)

    from switchvae.analysis.cli import add_analysis_parsers

    add_analysis_parsers(commands)

    demo = commands.add_parser("demo", help="the main job on the embedded synthetic set")
    demo.add_argument("--out", type=Path, default=Path("demo_run"), help="output directory")
    demo.add_argument("--workers", type=positive_int, default=_default_workers())
    demo.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a training setting of the cpu preset, e.g. --set train.epochs=5",
    )  # fmt: skip
    demo.add_argument("--shapes-per-class", type=positive_int, default=None, help=argparse.SUPPRESS)
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except SwitchVAEError as err:
        return _report(str(err))
    except OSError as err:
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        return _report(f"{err.strerror or err}{where}")
    except KeyboardInterrupt:
        print("switchvae: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
