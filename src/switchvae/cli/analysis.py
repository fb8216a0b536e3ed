"""Command-line glue of ``report``, ``reconstruct``, ``interpolate``, ``encode`` and ``export``.

Each command's function takes the parsed arguments, calls the library, prints one line
naming what it wrote and returns the exit code 0; problems raise
:class:`~switchvae.errors.SwitchVAEError`, which ``switchvae.cli.app`` turns into one line and a
non-zero exit. Heavy imports (torch, matplotlib) happen when a command runs, not at parse time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from switchvae.cli.args import int_up_to, parse_device, positive_int
from switchvae.limits import MAX_SERIES_STEPS
from switchvae.run import Run

SOURCES = ("voxels", "views")  # as switchvae.analysis.latents.SOURCES (not imported: cheap --help)


def _add_run_arguments(parser: argparse.ArgumentParser, split: bool = True) -> None:
    """RUN, --data, --split and --device, shared by every analysis command."""
    parser.add_argument("run", type=Path, metavar="RUN", help="training run directory")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="prepared dataset (default: the one recorded in the run)",
    )
    if split:
        parser.add_argument("--split", choices=("train", "val", "test"), default="test")
    parser.add_argument(
        "--device", default="auto", help="where the model runs: auto (GPU if any), cpu, cuda:0, ..."
    )


def _safe(text: str) -> str:
    """An item id as a file-name part (ids may hold ``/``)."""
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text)


def _open(args: argparse.Namespace):
    """The run with the split the arguments name (an AnalysisRun)."""
    from switchvae.analysis.latents import open_run

    return open_run(args.run, args.data, args.split, parse_device(args.device))


def cmd_report(args: argparse.Namespace) -> int:
    """``switchvae report RUN [--data DIR]``: write RUN/report.html and RUN/figures/."""
    from switchvae.analysis.report import ReportOptions, write_report

    options = ReportOptions(split=args.split, device=parse_device(args.device))
    print(write_report(args.run, args.data, options))
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    """``switchvae reconstruct RUN``: a figure of inputs and reconstructions."""
    from switchvae.analysis.figures import save_reconstructions
    from switchvae.analysis.latents import reconstruct_items, spread_indices

    run = _open(args)
    indices = spread_indices(run.dataset.labels, args.count)
    out = args.out or Run(args.run).figures_dir / f"reconstructions_{args.split}.png"
    with run.autocast():
        items = reconstruct_items(run.model, run.dataset, indices)
    print(save_reconstructions(items, out))
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    """``switchvae interpolate RUN --a ITEM --b ITEM``: a strip of decoded latents."""
    from switchvae.analysis.figures import save_series
    from switchvae.analysis.interpolate import interpolate_items

    run = _open(args)
    with run.autocast():
        series = interpolate_items(run.model, run.dataset, args.a, args.b, args.steps, args.source)
    name = f"interpolation_{_safe(args.a)}_{_safe(args.b)}_{args.source}.png"
    print(save_series(series, args.out or Run(args.run).figures_dir / name))
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    """``switchvae encode RUN --out FILE.npz``: posterior means of a whole split."""
    from switchvae.analysis.latents import save_latents

    run = _open(args)
    print(save_latents(run, args.out, batch_size=args.batch_size, progress=not args.no_progress))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``switchvae export RUN --item ITEM --out FILE``: decode one item, write a grid or mesh."""
    from switchvae.analysis.latents import decode_probabilities, encode_items, resolve_item
    from switchvae.analysis.meshes import export_decoded, export_format

    export_format(args.out)  # refuse a bad suffix before loading anything
    run = _open(args)
    index = resolve_item(run.dataset, args.item)
    with run.autocast():
        z = encode_items(run.model, run.dataset, [index], args.source)
        decoded = decode_probabilities(run.model, z)[0]
    print(export_decoded(decoded, args.out))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register the analysis commands on the main parser's subcommands."""
    report = commands.add_parser("report", help="write RUN/report.html with figures")
    _add_run_arguments(report)
    report.set_defaults(func=cmd_report)

    reconstruct = commands.add_parser("reconstruct", help="figure: inputs and reconstructions")
    _add_run_arguments(reconstruct)
    reconstruct.add_argument(
        "--count", type=int_up_to(MAX_SERIES_STEPS), default=8, help="items shown"
    )
    reconstruct.add_argument("--out", type=Path, default=None, help="PNG to write")
    reconstruct.set_defaults(func=cmd_reconstruct)

    interpolate = commands.add_parser("interpolate", help="figure: walk between two items")
    _add_run_arguments(interpolate)
    for name in ("a", "b"):
        interpolate.add_argument(
            f"--{name}", required=True, metavar="ID_OR_INDEX", help="item id or index"
        )
    interpolate.add_argument(
        "--steps",
        type=int_up_to(MAX_SERIES_STEPS),
        default=8,
        help=f"points, ends included (2..{MAX_SERIES_STEPS})",
    )
    interpolate.add_argument("--from", dest="source", choices=SOURCES, default="voxels")
    interpolate.add_argument("--out", type=Path, default=None, help="PNG to write")
    interpolate.set_defaults(func=cmd_interpolate)

    encode = commands.add_parser("encode", help="latents of a split to a .npz file")
    _add_run_arguments(encode)
    encode.add_argument("--out", type=Path, required=True, help="FILE.npz to write")
    encode.add_argument("--batch-size", type=positive_int, default=32)
    encode.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    encode.set_defaults(func=cmd_encode)

    export = commands.add_parser("export", help="decode one item to .binvox/.obj/.ply/.glb")
    _add_run_arguments(export)
    export.add_argument("--item", required=True, metavar="ID_OR_INDEX", help="item id or index")
    export.add_argument("--from", dest="source", choices=SOURCES, default="voxels")
    export.add_argument(
        "--out", type=Path, required=True, help="FILE.binvox, FILE.obj, FILE.ply or FILE.glb"
    )
    export.set_defaults(func=cmd_export)
