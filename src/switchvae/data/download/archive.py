"""Safe extraction of downloaded archives (zip, tar, tar.gz / tgz).

Every member is checked before anything is written: an absolute name, a ``..`` component,
a symbolic or hard link, a device file or FIFO refuses the whole archive with a
:class:`DataError` naming the member. The published dataset archives hold only regular
files and folders, so nothing legitimate is refused. Extraction goes into a hidden
temporary folder beside the target and ends with one rename, so an interrupted extraction
never leaves a half tree under the final name (a re-run starts the extraction over).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from switchvae.errors import DataError

__all__ = ["ArchiveMember", "extract_archive", "list_members"]

log = logging.getLogger(__name__)

# Folders of metadata some zip tools add (macOS Finder's resource forks); never extracted.
IGNORED_TOP_FOLDERS = ("__MACOSX",)
EXTRACTING_SUFFIX = ".extracting"
COPY_BUFFER_BYTES = 4 * 2**20
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# The "data" extraction filter (PEP 706, Python >= 3.10.12 / 3.11.4) is a second line of
# defence after check_members; older interpreters rely on check_members alone.
_TAR_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


@dataclass(frozen=True)
class ArchiveMember:
    """One archive entry: its name and kind ("file", "dir", "symlink", "hardlink", "device")."""

    name: str
    kind: str


def _zip_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16  # Unix mode bits, when the archiver stored them
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "device"
    return "dir" if info.is_dir() else "file"


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isdir():
        return "dir"
    if info.isfile():
        return "file"
    return "device"  # character/block device, FIFO or another special type


def list_members(archive: Path) -> list[ArchiveMember]:
    """Names and kinds of every member of a zip or tar archive (tar: one full read).

    Raises:
        DataError: the file is neither a zip nor a tar archive, or is unreadable.
    """
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return [ArchiveMember(i.filename, _zip_kind(i)) for i in zf.infolist()]
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tf:
                return [ArchiveMember(i.name, _tar_kind(i)) for i in tf.getmembers()]
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise DataError(f"{archive}: unreadable archive ({err})") from err
    raise DataError(f"{archive}: not a zip or tar archive")


def unsafe_reason(member: ArchiveMember) -> str | None:
    """Why extracting ``member`` could write outside the target folder, or None if safe."""
    name = member.name
    if member.kind in ("symlink", "hardlink", "device"):
        return f"it is a {member.kind} (only regular files and folders are accepted)"
    if name.startswith(("/", "\\")) or _DRIVE_LETTER.match(name):
        return "its path is absolute"
    if ".." in re.split(r"[/\\]", name):
        return "its path contains '..'"
    if "\0" in name:
        return "its path contains a NUL byte"
    return None


def check_members(archive: Path, members: list[ArchiveMember]) -> None:
    """Raise DataError naming the first member that could escape the target folder."""
    for member in members:
        reason = unsafe_reason(member)
        if reason is not None:
            raise DataError(
                f"{archive.name}: refusing to extract member {member.name!r}: {reason}; "
                "nothing was extracted"
            )


def _is_ignored(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return bool(parts) and parts[0] in IGNORED_TOP_FOLDERS


def _inside(root: Path, name: str) -> Path:
    """The path of member ``name`` under ``root``; a second guard after check_members."""
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DataError(f"refusing to extract member {name!r}: it resolves outside {root}")
    return path


def _extract_zip(archive: Path, tmp: Path, progress: bool) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = [i for i in zf.infolist() if not _is_ignored(i.filename)]
        for info in tqdm(infos, desc=f"extract {archive.name}", unit="file", disable=not progress):
            path = _inside(tmp, info.filename)
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst, COPY_BUFFER_BYTES)


def _extract_tar(archive: Path, tmp: Path, progress: bool) -> None:
    with tarfile.open(archive, "r:*") as tf:
        infos = [i for i in tf.getmembers() if not _is_ignored(i.name)]
        for info in tqdm(infos, desc=f"extract {archive.name}", unit="file", disable=not progress):
            _inside(tmp, info.name)
            tf.extract(info, tmp, **_TAR_FILTER)


def extract_archive(archive: str | Path, target: str | Path, progress: bool = True) -> Path:
    """Extract ``archive`` so that its content becomes the folder ``target``, atomically.

    An archive whose members all sit under one top folder named like ``target`` (e.g.
    ``ModelNet10.zip`` -> ``ModelNet10/...``) gives ``target`` that folder's content;
    any other layout is placed under ``target`` as it is.

    Args:
        archive: a zip, tar, tar.gz or tgz file.
        target: the folder to create; it must not exist yet.
        progress: show a progress bar on stderr.
    Returns:
        ``target``.
    Raises:
        DataError: ``target`` exists, the archive is unreadable, or a member is unsafe
            (see :func:`unsafe_reason`); nothing is written in those cases.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise DataError(f"{target} already exists; remove it to extract {archive.name} again")
    check_members(archive, list_members(archive))
    tmp = target.with_name(f".{target.name}{EXTRACTING_SUFFIX}")
    if tmp.exists():
        log.info("removing %s left by an interrupted extraction", tmp)
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp, progress)
        else:
            _extract_tar(archive, tmp, progress)
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{archive}: extraction failed ({err}); nothing was kept") from err
    except BaseException:  # a refused member, an interrupt: leave no half tree behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entries = list(tmp.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name == target.name:
        os.replace(entries[0], target)
        tmp.rmdir()
    else:
        os.replace(tmp, target)
    return target
