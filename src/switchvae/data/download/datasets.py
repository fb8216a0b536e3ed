"""Downloading the public datasets: the registry, then fetch, check and extract each archive.

``switchvae download NAME --to DIR`` fetches each archive of the dataset into ``DIR``
through ``<file>.part`` (resumable, see ``fetch.py``), checks its size and SHA-256,
renames it into place and extracts it safely (``archive.py``) into ``DIR/<folder>``.

Checksums: the publishers (Princeton ModelNet, Stanford 3D-R2N2) give no size or SHA-256
for these archives on their pages, so the registry stores ``None`` for both rather than
an invented value. The transfer is then checked against the server's ``Content-Length`` only,
and the computed SHA-256 is returned (the command prints it) so that users can pin it
with ``--sha256 FILE=HEX`` on later downloads and mirrors.
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path

from switchvae.data.download.archive import extract_archive
from switchvae.data.download.fetch import DEFAULT_ATTEMPTS, download_file, file_sha256
from switchvae.errors import DataError

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DownloadedFile",
    "RemoteFile",
    "dataset_info",
    "download_dataset",
    "download_file",
    "file_sha256",
]

log = logging.getLogger(__name__)

MODELNET_TERMS = (
    "ModelNet (Princeton Vision & Robotics, https://modelnet.cs.princeton.edu/): the CAD "
    "models were collected from the internet and their original authors hold the "
    "copyright; the dataset is provided for the convenience of academic research only. "
    "Cite Wu et al., '3D ShapeNets: A Deep Representation for Volumetric Shapes', CVPR 2015."
)
SHAPENET_TERMS = (
    "3D-R2N2 renderings and 32^3 voxelizations (Choy et al., ECCV 2016) are derived from "
    "ShapeNetCore and fall under the ShapeNet terms of use (https://shapenet.org/terms): "
    "non-commercial research and educational use only, by a user who has agreed to them. "
    "Cite Chang et al., 'ShapeNet: An Information-Rich 3D Model Repository', 2015, and "
    "Choy et al., '3D-R2N2', ECCV 2016."
)


@dataclass(frozen=True)
class RemoteFile:
    """One published archive.

    Attributes:
        url: the publisher's address.
        folder: the folder its content is extracted to (its top folder inside the archive).
        size: expected bytes, or None when the publisher gives none.
        sha256: expected SHA-256 (hex), or None when the publisher gives none.
    """

    url: str
    folder: str
    size: int | None = None
    sha256: str | None = None

    @property
    def filename(self) -> str:
        """The archive's file name (last part of the URL)."""
        return urllib.parse.unquote(urllib.parse.urlsplit(self.url).path.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class DatasetInfo:
    """A downloadable dataset: its archives and the terms users accept by downloading."""

    name: str
    files: tuple[RemoteFile, ...]
    terms: str
    requires_agreement: bool = False


DATASETS: dict[str, DatasetInfo] = {
    "modelnet10": DatasetInfo(
        "modelnet10",
        (
            RemoteFile(
                "http://3dvision.princeton.edu/projects/2014/3DShapeNets/ModelNet10.zip",
                "ModelNet10",
            ),
        ),
        MODELNET_TERMS,
    ),
    "modelnet40": DatasetInfo(
        "modelnet40",
        (RemoteFile("http://modelnet.cs.princeton.edu/ModelNet40.zip", "ModelNet40"),),
        MODELNET_TERMS,
    ),
    "shapenet-r2n2": DatasetInfo(
        "shapenet-r2n2",
        (
            RemoteFile("http://cvgl.stanford.edu/data2/ShapeNetRendering.tgz", "ShapeNetRendering"),
            RemoteFile("http://cvgl.stanford.edu/data2/ShapeNetVox32.tgz", "ShapeNetVox32"),
        ),
        SHAPENET_TERMS,
        requires_agreement=True,
    ),
}


@dataclass(frozen=True)
class DownloadedFile:
    """What happened to one archive of a dataset.

    ``sha256`` is the digest of the archive (None when it was not looked at because its
    extracted folder already existed); ``verified`` says it matched a known checksum.
    """

    filename: str
    archive: Path | None
    sha256: str | None
    verified: bool
    extracted: Path | None
    already_present: bool = False


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of dataset ``name`` (DataError listing the known ones)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def _mirrored(remote: RemoteFile, url_base: str | None) -> str:
    if url_base is None:
        return remote.url
    return url_base.rstrip("/") + "/" + urllib.parse.quote(remote.filename)


def download_dataset(
    dataset: str | DatasetInfo,
    to: str | Path,
    url_base: str | None = None,
    sha256: dict[str, str] | None = None,
    accept_terms: bool = False,
    extract: bool = True,
    keep_archives: bool = True,
    attempts: int = DEFAULT_ATTEMPTS,
    progress: bool = True,
) -> list[DownloadedFile]:
    """Download (and extract) every archive of a dataset into ``to``; re-runs skip done work.

    Args:
        dataset: a registry name (see DATASETS) or an entry.
        to: the folder that receives the archives and the extracted folders.
        url_base: a mirror holding the same file names (replaces the publisher's folder).
        sha256: checksums to pin, by file name (override the registry's).
        accept_terms: the user has agreed to terms that require agreement (ShapeNet).
        extract: extract each archive into ``to/<folder>``.
        keep_archives: keep each archive after a successful extraction.
        attempts: tries per file before giving up (the .part stays for a re-run).
        progress: show progress bars on stderr.
    Raises:
        DataError: terms not accepted, or a download / check / extraction failed.
    """
    info = dataset_info(dataset) if isinstance(dataset, str) else dataset
    if info.requires_agreement and not accept_terms:
        raise DataError(
            f"{info.name} may only be downloaded by users who agreed to its terms of use; "
            "read them, then pass --accept-terms"
        )
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    pinned = sha256 or {}
    return [
        _fetch_one(
            replace(remote, sha256=pinned.get(remote.filename, remote.sha256)),
            to,
            url_base,
            extract,
            keep_archives,
            attempts,
            progress,
        )
        for remote in info.files
    ]


def _fetch_one(
    remote: RemoteFile,
    to: Path,
    url_base: str | None,
    extract: bool,
    keep_archives: bool,
    attempts: int,
    progress: bool,
) -> DownloadedFile:
    """Download, check and extract one archive of a dataset (see download_dataset)."""
    folder, archive = to / remote.folder, to / remote.filename
    if extract and folder.is_dir():
        log.info("%s already extracted, skipping %s", folder, remote.filename)
        kept = archive if archive.is_file() else None
        return DownloadedFile(remote.filename, kept, None, False, folder, True)
    present = archive.is_file()
    digest = download_file(
        _mirrored(remote, url_base),
        archive,
        remote.size,
        remote.sha256,
        attempts,
        progress=progress,
    )
    extracted = extract_archive(archive, folder, progress) if extract else None
    if extracted is not None and not keep_archives:
        archive.unlink()
    kept = archive if archive.is_file() else None
    verified = remote.sha256 is not None
    return DownloadedFile(remote.filename, kept, digest, verified, extracted, present)
