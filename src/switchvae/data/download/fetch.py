"""Resumable HTTP(S) download of one file, with size and SHA-256 checks.

The file is written to ``<dest>.part`` and renamed to ``dest`` only once complete and
checked. After a cut, the next attempt (or a re-run) asks for the rest with an HTTP
``Range: bytes=N-`` request and appends; a server that ignores ``Range`` (answers 200
instead of 206) or refuses the offset (416) makes the transfer restart cleanly from
byte 0. A file that fails its checks is moved aside to ``<name>.bad`` so that it is never
trusted or resumed. ``file://`` addresses work too (always transferred whole).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from switchvae import __version__
from switchvae.errors import DataError

__all__ = ["download_file", "file_sha256", "verify_file"]

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
BAD_SUFFIX = ".bad"
DEFAULT_ATTEMPTS = 3
DEFAULT_TIMEOUT_S = 60.0
READ_BLOCK_BYTES = 1 * 2**20
RETRY_BACKOFF_S = 2.0  # wait before the 2nd attempt; doubles with each further attempt
MAX_BACKOFF_S = 30.0
USER_AGENT = f"switchvae/{__version__} (dataset download)"
# RFC 9110 section 14.4: "bytes first-last/complete-length" ("*" when unknown).
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def file_sha256(path: Path, progress: bool = False) -> str:
    """SHA-256 (hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    with (
        open(path, "rb") as handle,
        tqdm(
            total=path.stat().st_size,
            desc=f"sha256 {path.name}",
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progress,
        ) as bar,
    ):
        while block := handle.read(READ_BLOCK_BYTES):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def verify_file(path: Path, size: int | None, sha256: str | None, progress: bool = False) -> str:
    """Check size and SHA-256 of ``path``; return the digest.

    Raises:
        DataError: a mismatch; the file is moved aside to ``<name>.bad`` first so that a
            re-run downloads it again instead of trusting or resuming it.
    """
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        _reject(path, f"has {actual_size} bytes, expected {size}")
    digest = file_sha256(path, progress)
    if sha256 is not None and digest != sha256.lower():
        _reject(path, f"has SHA-256 {digest}, expected {sha256.lower()}")
    return digest


def _reject(path: Path, problem: str) -> None:
    name = path.name.removesuffix(PART_SUFFIX)
    bad = path.with_name(name + BAD_SUFFIX)
    os.replace(path, bad)
    raise DataError(
        f"{name} {problem}: the download is corrupt or not the published file; it was "
        f"moved aside to {bad} (delete it, check --url-base, and re-run)"
    )


class _TransferCutError(Exception):
    """A transfer stopped early; the .part file is kept and can be resumed."""


def _content_total(response: http.client.HTTPResponse, start: int) -> int | None:
    """Total size of the remote file from the headers (None when the server gives none)."""
    if start:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != start:
            raise ValueError(response.headers.get("Content-Range"))
        return None if match.group(3) == "*" else int(match.group(3))
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else None


def _raise_unless_complete(err: urllib.error.HTTPError, url: str, part: Path, have: int) -> None:
    """Handle an HTTP error answer: return if it says the .part is the whole file, else raise."""
    if err.code == 416 and have:  # RFC 9110 15.5.17: "Content-Range: bytes */<size>"
        if err.headers.get("Content-Range", "") == f"bytes */{have}":
            return
        part.unlink()  # the .part is longer than the remote file: not a prefix of it
        raise _TransferCutError("the server refused to resume; restarting from the start") from err
    if err.code >= 500:
        raise _TransferCutError(f"HTTP {err.code} {err.reason}") from err
    raise DataError(f"{url}: HTTP {err.code} {err.reason}") from err


def _open(
    url: str, part: Path, timeout: float
) -> tuple[http.client.HTTPResponse | None, int, int | None]:
    """Send the request, resuming from the .part size; return (response, offset, total).

    The response is None when the .part already holds the whole file.
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        _raise_unless_complete(err, url, part, have)
        return None, have, have
    if have and getattr(response, "status", None) != 206:
        log.info("%s: the server ignored the Range request; restarting from the start", url)
        have = 0
    try:
        return response, have, _content_total(response, have)
    except ValueError as err:
        response.close()
        part.unlink()
        problem = f"unexpected Content-Range {err}; restarting from the start"
        raise _TransferCutError(problem) from err


def _transfer(url: str, part: Path, size: int | None, timeout: float, progress: bool) -> None:
    """One attempt: append the rest of ``url`` to ``part``; raise _TransferCutError if cut short."""
    try:
        response, start, total = _open(url, part, timeout)
        if response is None:
            return
        total = total if total is not None else size
        with response:
            if total is not None and shutil.disk_usage(part.parent).free < total - start:
                raise DataError(f"not enough free space in {part.parent} for {part.name}")
            with (
                open(part, "ab" if start else "wb") as out,
                tqdm(
                    total=total,
                    initial=start,
                    desc=part.name.removesuffix(PART_SUFFIX),
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    disable=not progress,
                ) as bar,
            ):
                while block := response.read(READ_BLOCK_BYTES):
                    out.write(block)
                    bar.update(len(block))
    except (OSError, http.client.HTTPException) as err:
        raise _TransferCutError(f"{type(err).__name__}: {err}") from err
    received = part.stat().st_size
    if total is not None and received < total:
        raise _TransferCutError(f"connection closed after {received} of {total} bytes")


def download_file(
    url: str,
    dest: str | Path,
    size: int | None = None,
    sha256: str | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: bool = True,
) -> str:
    """Download ``url`` to ``dest`` through ``dest.part``, resumably; return its SHA-256.

    A complete ``dest`` is only verified. A cut transfer is retried ``attempts`` times in
    all (resuming with ``Range``); if it still fails, ``dest.part`` is kept for a re-run.

    Raises:
        DataError: the server refuses the file, the transfer fails ``attempts`` times, or
            size / checksum do not match (the file is then moved aside, see verify_file).
    """
    dest = Path(dest)
    if dest.is_file():
        return verify_file(dest, size, sha256, progress)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + PART_SUFFIX)
    for attempt in range(1, attempts + 1):
        try:
            _transfer(url, part, size, timeout, progress)
            break
        except _TransferCutError as cut:
            problem = str(cut)
        if attempt < attempts:
            log.warning("%s: %s; retrying (%d of %d)", dest.name, problem, attempt + 1, attempts)
            time.sleep(min(RETRY_BACKOFF_S * 2 ** (attempt - 1), MAX_BACKOFF_S))
    else:
        kept = f"{part} is kept: re-run to resume" if part.exists() else "nothing was kept"
        raise DataError(f"download of {url} failed after {attempts} attempt(s) ({problem}); {kept}")
    digest = verify_file(part, size, sha256, progress)
    os.replace(part, dest)
    return digest
