"""Command-line glue of ``switchvae fit``: its arguments and the function that runs it."""

from __future__ import annotations

import argparse
import errno
import math
from pathlib import Path
from typing import TYPE_CHECKING

from switchvae.config import (
    ACCELERATORS,
    PRESETS,
    Config,
    load_config,
    read_config_file,
)
from switchvae.errors import DataError
from switchvae.run import Run

if TYPE_CHECKING:
    from switchvae.train.fit import FitResult

DEFAULT_PRESET = "cpu"


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``fit`` options to ``parser``."""
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset directory")
    parser.add_argument("--out", required=True, type=Path, help="run directory (RUN)")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help=f"settings to start from (default {DEFAULT_PRESET}; on --resume, the run's own)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML file merged over the preset"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set model.latent_dim=64 (repeatable)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue RUN from its last checkpoint"
    )
    parser.add_argument("--devices", type=int, default=None, help="processes/GPUs per node")
    parser.add_argument("--num-nodes", type=int, default=None, help="number of machines")
    parser.add_argument("--accelerator", choices=ACCELERATORS, default=None)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def resolve_config(args: argparse.Namespace) -> Config:
    """Preset (or, on ``--resume`` without one, ``RUN/config.yaml``) + file + overrides."""
    overrides = list(args.overrides)
    for key, value in (
        ("train.devices", args.devices),
        ("train.num_nodes", args.num_nodes),
        ("train.accelerator", args.accelerator),
    ):
        if value is not None:
            overrides.append(f"{key}={value}")
    saved = Run(args.out).config_file
    if args.resume and args.preset is None and args.config is None and saved.is_file():
        return load_config(base=read_config_file(saved), overrides=overrides)
    return load_config(args.preset or DEFAULT_PRESET, args.config, overrides)


def _summary(result: FitResult) -> str:
    losses = result.losses
    parts = [f"trained {result.step} steps ({result.epoch} epochs)"]
    if "total" in losses:
        parts.append(f"last loss {losses['total']:.2f}")
    for key, name in (("val/iou_voxel", "voxel"), ("val/iou_image", "image")):
        value = result.val_metrics.get(key)
        if value is not None and not math.isnan(value):
            parts.append(f"val IoU from {name} {value:.3f}")
    return ", ".join(parts) + f"; checkpoint {result.checkpoint}"


def run_fit(args: argparse.Namespace) -> int:
    """Run ``switchvae fit`` from parsed arguments; print a one-line summary; return 0."""
    from switchvae.train.fit import fit  # imports torch: only when the command runs

    config = resolve_config(args)
    try:
        result = fit(config, args.data, args.out, resume=args.resume, progress=not args.no_progress)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        raise DataError(
            f"no space left on the device holding the run directory {args.out}; free some "
            "space and run the same command with --resume to continue from the last checkpoint"
        ) from None
    if result.global_rank == 0:
        print(_summary(result))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``fit``."""
    fit = commands.add_parser("fit", help="train SwitchVAE (or a baseline) on a prepared dataset")
    add_fit_arguments(fit)
    fit.set_defaults(func=run_fit)
