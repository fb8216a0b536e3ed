"""``atomic_write``: write a file under a temporary name beside it, then rename it into place.

A reader never sees a half-written file (``os.replace`` is atomic on one file system), and
a killed or failed writer leaves the previous file untouched. The temporary name is new
and hidden (``.<name>.<random>.tmp``, created exclusively), so it never replaces a file a
user keeps beside the target; it is removed when the writer fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def _fresh_temp(path: Path) -> Path:
    """Create and return an empty file ``.<name>.<random>.tmp`` beside ``path`` (mode 0666
    less the umask, like a plain ``open``)."""
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temp


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed.

    Usage::

        with atomic_write(target) as temp:
            temp.write_text(text)   # or np.save(temp, ...), mesh.export(temp, ...)

    Args:
        path: the file to write (its folder must exist).
    Yields:
        The temporary file (already created, empty), in the same folder as ``path``.
    """
    path = Path(path)
    temp = _fresh_temp(path)
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_write`."""
    with atomic_write(path) as temp:
        temp.write_text(text)
