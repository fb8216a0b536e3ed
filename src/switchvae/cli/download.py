"""``switchvae download DATASET --to DIR``: fetch ModelNet10/40 or ShapeNet-R2N2.

``add_download_arguments(parser)`` declares the options and ``run_download(args) -> int``
runs the command; errors are raised as :class:`~switchvae.errors.SwitchVAEError` for the
main entry point to print as one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from switchvae.cli.args import positive_int
from switchvae.errors import DataError


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``switchvae download DATASET --to DIR``."""
    from switchvae.data.download.datasets import DATASETS

    parser.add_argument("dataset", choices=sorted(DATASETS), help="which dataset to fetch")
    parser.add_argument("--to", required=True, type=Path, help="folder for archives + data")
    parser.add_argument(
        "--url-base",
        "--mirror",
        dest="url_base",
        metavar="URL",
        help="fetch the same file names from this base address (a mirror) instead",
    )
    parser.add_argument(
        "--sha256",
        action="append",
        default=[],
        metavar="FILE=HEX",
        help="pin the SHA-256 of an archive (repeatable); the publishers give none",
    )
    parser.add_argument(
        "--accept-terms",
        action="store_true",
        help="confirm that you have agreed to the dataset's terms of use (ShapeNet)",
    )
    parser.add_argument("--no-extract", action="store_true", help="only download the archives")
    parser.add_argument(
        "--delete-archives", action="store_true", help="delete each archive once extracted"
    )
    parser.add_argument(
        "--attempts", type=positive_int, default=3, help="tries per file (resuming) before failing"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _pinned_checksums(pairs: list[str]) -> dict[str, str]:
    pinned = {}
    for pair in pairs:
        name, _, digest = pair.partition("=")
        if not name or len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise DataError(f"--sha256 expects FILE=<64 hex digits>, got {pair!r}")
        pinned[name] = digest.lower()
    return pinned


def run_download(args: argparse.Namespace) -> int:
    """Print the dataset's terms, then download, check and extract it; print the digests."""
    from switchvae.data.download.datasets import dataset_info, download_dataset

    info = dataset_info(args.dataset)
    print(f"Terms of use of {info.name}: {info.terms}")
    results = download_dataset(
        info,
        args.to,
        url_base=args.url_base,
        sha256=_pinned_checksums(args.sha256),
        accept_terms=args.accept_terms,
        extract=not args.no_extract,
        keep_archives=not args.delete_archives,
        attempts=args.attempts,
        progress=not args.no_progress,
    )
    for result in results:
        if result.sha256 is None:
            print(f"{result.filename}: already extracted to {result.extracted}")
            continue
        if result.verified:
            check = "matches the pinned checksum"
        else:
            check = (
                "no published checksum, size checked against the server only; pin it with "
                f"--sha256 {result.filename}={result.sha256}"
            )
        print(f"{result.filename}: sha256 {result.sha256} ({check})")
        if result.extracted is not None:
            print(f"{result.filename}: extracted to {result.extracted}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``download``."""
    download = commands.add_parser("download", help="fetch ModelNet10/40 or ShapeNet-R2N2")
    add_download_arguments(download)
    download.set_defaults(func=run_download)
