"""One writer per output folder: a lock file held for the whole command.

``prepare`` and ``merge`` lock their work folder (``<out>.partial``, ``<out>.merging``),
``fit`` its run folder. The lock is an OS file lock (:mod:`filelock`), so it is released
when the process ends, however it ends: a killed run never leaves a stale lock behind.
A second command that finds the lock taken stops at once with one line naming the folder;
it never waits and never writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from switchvae.errors import DataError

LOCK_FILE = ".switchvae.lock"


@contextmanager
def hold_lock(folder: Path, command: str, shown: Path | None = None) -> Iterator[None]:
    """Hold ``folder/.switchvae.lock`` while the body runs.

    Args:
        folder: an existing folder the command owns.
        command: the command's name, for the message (``"prepare"``, ``"fit"``, ...).
        shown: the folder the user named, if not ``folder`` itself (e.g. ``--out``).
    Raises:
        DataError: another process holds the lock (``another prepare is writing DIR``).
    """
    lock = FileLock(folder / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise DataError(
            f"another {command} is writing {shown or folder}; wait for it to finish "
            "or choose another --out"
        ) from None
    try:
        yield
    finally:
        lock.release()
