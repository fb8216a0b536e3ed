"""Command line: parse arguments, call library functions, turn errors into exit codes.

Every command exits 0 on success; a problem the user can fix prints one line
``switchvae: error: ...`` on stderr and exits 2; an interrupted command exits 130.
Each command's module (``prepare``, ``download``, ``fit``, ``evaluate``, ``analysis``,
``export``, ``demo``) registers its parsers with ``add_commands``; heavy imports (torch,
scikit-learn, matplotlib) happen inside the command functions, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from switchvae import __version__
from switchvae.cli import analysis, demo, download, evaluate, export, fit, prepare
from switchvae.errors import SwitchVAEError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("switchvae")

COMMAND_MODULES = (prepare, download, fit, evaluate, analysis, export, demo)


def _report(message: str) -> int:
    """Print the first line of an error message on stderr; the rest only with --verbose."""
    first, *detail = message.strip().splitlines() or ["unknown error"]
    print(f"switchvae: error: {first}", file=sys.stderr)
    if detail:
        log.debug("details:\n%s", "\n".join(detail))
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    """The ``switchvae`` parser with every command."""
    parser = argparse.ArgumentParser(
        prog="switchvae",
        description="SwitchVAE: 3D shape latents from paired voxels and multi-view images.",
    )
    parser.add_argument("--version", action="version", version=f"switchvae {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``switchvae`` with ``argv`` (default: the process's); return the exit code."""
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
