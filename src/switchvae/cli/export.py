"""``switchvae export-model RUN --out FILE``: the lean model file of a run.

Writes the weights and the model config only (safetensors; see
:mod:`switchvae.model.pretrained`), read back by ``SwitchVAE.from_pretrained(FILE)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def run_export_model(args: argparse.Namespace) -> int:
    """Export the run's last checkpoint (or the checkpoint file given) to ``--out``."""
    import torch

    from switchvae.run import Run
    from switchvae.train.checkpoint import write_model_file

    checkpoint = args.run if args.run.is_file() else Run(args.run).last_checkpoint
    out = write_model_file(checkpoint, args.out, getattr(torch, args.dtype))
    print(f"{out} ({out.stat().st_size / 2**20:.1f} MiB, from {checkpoint})")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``export-model``."""
    export = commands.add_parser(
        "export-model", help="write a run's weights + model config to one .safetensors file"
    )
    export.add_argument(
        "run", type=Path, metavar="RUN", help="training run directory (or a checkpoint file)"
    )
    export.add_argument("--out", type=Path, required=True, help="FILE.safetensors to write")
    export.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16"),
        default="float16",
        help="how the weights are stored (default float16: half the size of float32; "
        "loaded back as float32)",
    )
    export.set_defaults(func=run_export_model)
