"""``switchvae demo``: the main job on the embedded synthetic set, and its printed summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from switchvae.cli.args import default_workers, positive_int


def demo_rows(result) -> list[tuple[str, float | None, float | None]]:
    """(label, trained value, untrained value) rows of the demo's summary."""
    from switchvae.evaluate.metrics import flatten_metrics
    from switchvae.evaluate.sections import metric_sections

    trained = flatten_metrics(result.metrics)
    untrained = flatten_metrics(result.untrained_metrics)
    rows = [row for metric in metric_sections() for row in metric.demo]
    return [(label, trained.get(key), untrained.get(key)) for label, key in rows]


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
    for label, trained, untrained in demo_rows(result):
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


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``demo``."""
    demo = commands.add_parser("demo", help="the main job on the embedded synthetic set")
    demo.add_argument("--out", type=Path, default=Path("demo_run"), help="output directory")
    demo.add_argument("--workers", type=positive_int, default=default_workers())
    demo.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a training setting of the cpu preset, e.g. --set train.epochs=5",
    )
    demo.add_argument("--shapes-per-class", type=positive_int, default=None, help=argparse.SUPPRESS)
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    demo.set_defaults(func=cmd_demo)
