"""``switchvae evaluate RUN [RUN ...] [--data DIR]``: arguments and the command's body.

Each RUN gets its own ``RUN/metrics.json``; with several runs (e.g. training seeds) the
printed table shows mean ± std over runs, optionally also written with ``--summary FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from switchvae.cli.args import non_negative_int, parse_device, positive_int
from switchvae.config import PRECISIONS

# evaluate_run's defaults, repeated so that building the parser imports neither torch nor
# scikit-learn (``switchvae --help`` stays fast); a test keeps them equal.
DEFAULT_SEEDS = 3
DEFAULT_WORKERS = 2
DEFAULT_BATCH_SIZE = 32


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``evaluate`` command's arguments to its subparser."""
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="training run directory")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="prepared dataset (default: the one recorded in RUN/run.json)",
    )
    parser.add_argument("--split", choices=("test", "val"), default="test", help="split to score")
    parser.add_argument(
        "--seeds", type=positive_int, default=DEFAULT_SEEDS, help="SVM cross-validation seeds"
    )
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--workers", type=non_negative_int, default=DEFAULT_WORKERS, help="loader workers"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="forward-pass precision (default: the run's train.precision, auto resolved here)",
    )
    parser.add_argument(
        "--bf16",
        dest="precision",
        action="store_const",
        const="bf16-mixed",
        help="same as --precision bf16-mixed",
    )
    parser.add_argument(
        "--device", default="auto", help="where the model runs: auto (GPU if any), cpu, cuda:0, ..."
    )
    parser.add_argument(
        "--summary", type=Path, default=None, help="also write mean ± std over runs to this JSON"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate every RUN, write each ``RUN/metrics.json``, print a short table; exit code."""
    from switchvae.data.store.output_dir import write_json_atomic
    from switchvae.evaluate.metrics import evaluate_run, summarize_runs
    from switchvae.run import Run

    device = parse_device(args.device)
    results = []
    for run_dir in args.runs:
        metrics = evaluate_run(
            run_dir,
            args.data,
            args.split,
            args.seeds,
            args.batch_size,
            num_workers=args.workers,
            precision=args.precision,
            device=device,
            progress=not args.no_progress,
        )
        seconds = metrics["timing"]["total_s"]
        print(f"{Run(run_dir).metrics_file} ({metrics['num_test_shapes']} shapes, {seconds:.1f} s)")
        results.append(metrics)
    summary = summarize_runs(results)
    width = max((len(key) for key in summary), default=0)
    for key, stats in summary.items():
        if len(results) == 1:
            print(f"  {key:<{width}}  {stats['mean']:.4f}")
        else:
            print(f"  {key:<{width}}  {stats['mean']:.4f} ± {stats['std']:.4f} ({stats['runs']})")
    if args.summary is not None:
        write_json_atomic(args.summary, {"runs": [str(r) for r in args.runs], "metrics": summary})
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``evaluate``."""
    evaluate = commands.add_parser(
        "evaluate", help="IoU, SVM classification and retrieval -> RUN/metrics.json"
    )
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=run_evaluate)
