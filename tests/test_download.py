"""Dataset downloads against a local HTTP server: resume, checks, safe extraction, CLI."""

from __future__ import annotations

import argparse
import hashlib
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from switchvae.cli.download import add_download_arguments, run_download
from switchvae.data.download import fetch
from switchvae.data.download.archive import extract_archive
from switchvae.data.download.datasets import DatasetInfo, RemoteFile, download_dataset
from switchvae.data.download.fetch import download_file
from switchvae.errors import DataError

OFF_TEXT = b"OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n"


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` by name; can cut the next response short or ignore Range."""

    files: dict[str, bytes]
    ranges_seen: list[str | None]
    cut_next_at: int | None = None
    ignore_range: bool = False


class Handler(BaseHTTPRequestHandler):
    server: FileServer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        data = self.server.files.get(self.path.lstrip("/"))
        if data is None:
            self.send_error(404)
            return
        asked = self.headers.get("Range")
        self.server.ranges_seen.append(asked)
        start = 0
        if asked and not self.server.ignore_range:
            start = int(asked.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.server.cut_next_at is not None:
            body, self.server.cut_next_at = body[: self.server.cut_next_at], None
        self.wfile.write(body)  # HTTP/1.0: the connection closes after this


@pytest.fixture
def server() -> Iterator[FileServer]:
    httpd = FileServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.ranges_seen = {}, []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch):
    monkeypatch.setattr(fetch, "RETRY_BACKOFF_S", 0.0)


def base_url(httpd: FileServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def modelnet_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for k in range(30):  # large enough that half of it is a real cut
            zf.writestr(f"ModelNet10/chair/train/chair_{k:04d}.off", OFF_TEXT * (k + 1))
        zf.writestr("ModelNet10/desk/test/desk_0001.off", OFF_TEXT)
        zf.writestr("__MACOSX/ModelNet10/._chair", b"resource fork")
    return buffer.getvalue()


def tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tf:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry(httpd: FileServer, name: str, folder: str, digest: str | None) -> DatasetInfo:
    remote = RemoteFile(f"{base_url(httpd)}/{name}", folder, sha256=digest)
    return DatasetInfo("test-set", (remote,), "for tests only")


def test_good_download_and_extract(server: FileServer, tmp_path: Path):
    data = modelnet_zip()
    server.files["ModelNet10.zip"] = data
    info = entry(server, "ModelNet10.zip", "ModelNet10", sha(data))
    [result] = download_dataset(info, tmp_path, progress=False)
    assert result.sha256 == sha(data) and result.verified
    root = tmp_path / "ModelNet10"
    assert result.extracted == root
    assert (root / "chair" / "train" / "chair_0003.off").read_bytes() == OFF_TEXT * 4
    assert (root / "desk" / "test" / "desk_0001.off").is_file()
    assert not (tmp_path / "__MACOSX").exists() and not (root / "ModelNet10").exists()
    assert (tmp_path / "ModelNet10.zip").read_bytes() == data
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*extracting"))
    [again] = download_dataset(info, tmp_path, progress=False)
    assert again.already_present and len(server.ranges_seen) == 1


def test_wrong_checksum_is_refused_and_nothing_extracted(server: FileServer, tmp_path: Path):
    server.files["ModelNet10.zip"] = modelnet_zip()
    info = entry(server, "ModelNet10.zip", "ModelNet10", "0" * 64)
    with pytest.raises(DataError, match="SHA-256.*expected 0000"):
        download_dataset(info, tmp_path, progress=False)
    assert not (tmp_path / "ModelNet10").exists()
    assert not (tmp_path / "ModelNet10.zip").exists()
    assert not (tmp_path / "ModelNet10.zip.part").exists()
    assert (tmp_path / "ModelNet10.zip.bad").is_file()  # kept aside for inspection


def test_cut_transfer_resumes_with_range(server: FileServer, tmp_path: Path):
    data = modelnet_zip()
    half = len(data) // 2
    server.files["a.zip"], server.cut_next_at = data, half
    dest = tmp_path / "a.zip"
    with pytest.raises(DataError, match="re-run to resume"):
        download_file(
            f"{base_url(server)}/a.zip", dest, sha256=sha(data), attempts=1, progress=False
        )
    part = tmp_path / "a.zip.part"
    assert part.stat().st_size == half and not dest.exists()
    digest = download_file(f"{base_url(server)}/a.zip", dest, sha256=sha(data), progress=False)
    assert server.ranges_seen == [None, f"bytes={half}-"]
    assert digest == sha(data) and dest.read_bytes() == data and not part.exists()


def test_complete_part_is_not_fetched_again(server: FileServer, tmp_path: Path):
    data = modelnet_zip()
    server.files["a.zip"] = data
    (tmp_path / "a.zip.part").write_bytes(data)  # killed between the last byte and the rename
    url = f"{base_url(server)}/a.zip"
    assert download_file(url, tmp_path / "a.zip", sha256=sha(data), progress=False) == sha(data)
    assert server.ranges_seen == [f"bytes={len(data)}-"]  # answered 416: nothing re-sent


def test_part_longer_than_the_file_restarts(server: FileServer, tmp_path: Path):
    data = modelnet_zip()
    server.files["a.zip"] = data
    (tmp_path / "a.zip.part").write_bytes(data + b"junk")
    url = f"{base_url(server)}/a.zip"
    assert download_file(url, tmp_path / "a.zip", progress=False) == sha(data)
    assert server.ranges_seen == [f"bytes={len(data) + 4}-", None]


def test_retries_resume_within_one_call(server: FileServer, tmp_path: Path):
    data = modelnet_zip()
    server.files["a.zip"], server.cut_next_at = data, 1000
    digest = download_file(f"{base_url(server)}/a.zip", tmp_path / "a.zip", progress=False)
    assert digest == sha(data) and server.ranges_seen == [None, "bytes=1000-"]


def test_server_ignoring_range_restarts_cleanly(server: FileServer, tmp_path: Path):
    data = modelnet_zip()
    server.files["a.zip"], server.cut_next_at = data, 777
    url, dest = f"{base_url(server)}/a.zip", tmp_path / "a.zip"
    with pytest.raises(DataError):
        download_file(url, dest, attempts=1, progress=False)
    server.ignore_range = True
    assert download_file(url, dest, sha256=sha(data), progress=False) == sha(data)
    assert server.ranges_seen[-1] == "bytes=777-" and dest.read_bytes() == data


def test_missing_file_is_a_clear_error(server: FileServer, tmp_path: Path):
    with pytest.raises(DataError, match="HTTP 404"):
        download_file(f"{base_url(server)}/nope.zip", tmp_path / "nope.zip", progress=False)
    assert not list(tmp_path.iterdir())


def test_tgz_pair_like_r2n2(server: FileServer, tmp_path: Path):
    files = {}
    for name in ("ShapeNetRendering", "ShapeNetVox32"):
        info = tarfile.TarInfo(f"{name}/02691156/abc/model.bin")
        files[f"{name}.tgz"] = tar_bytes([(info, name.encode())])
    server.files.update(files)
    remotes = tuple(RemoteFile(f"http://mirror.invalid/{n}", n.split(".")[0]) for n in files)
    info = DatasetInfo("r2n2-test", remotes, "terms", requires_agreement=True)
    with pytest.raises(DataError, match="--accept-terms"):
        download_dataset(info, tmp_path, progress=False)
    results = download_dataset(
        info, tmp_path, url_base=base_url(server) + "/", accept_terms=True,
        keep_archives=False, progress=False,
    )  # fmt: skip
    assert [r.verified for r in results] == [False, False]
    for name in ("ShapeNetRendering", "ShapeNetVox32"):
        assert (tmp_path / name / "02691156/abc/model.bin").read_bytes() == name.encode()
        assert not (tmp_path / f"{name}.tgz").exists()


def _zip_with(name: str, symlink: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("ModelNet10/ok.off", OFF_TEXT)
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = 0o120777 << 16  # S_IFLNK | rwx
        zf.writestr(info, "/etc/passwd" if symlink else "evil")
    return buffer.getvalue()


def _tar_member(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


MALICIOUS = {
    "zip-dotdot": ("evil.zip", lambda: _zip_with("../evil"), "'../evil'"),
    "zip-absolute": ("evil.zip", lambda: _zip_with("/tmp/evil_abs"), "absolute"),
    "zip-symlink": ("evil.zip", lambda: _zip_with("ModelNet10/link", True), "symlink"),
    "tar-absolute": (
        "evil.tgz",
        lambda: tar_bytes([(tarfile.TarInfo("/tmp/switchvae_evil_abs"), b"x")]),
        "absolute",
    ),
    "tar-symlink": (
        "evil.tgz",
        lambda: tar_bytes([_tar_member("ModelNet10/link", tarfile.SYMTYPE, "../../outside")]),
        "'ModelNet10/link'.*symlink",
    ),
    "tar-hardlink": (
        "evil.tar",
        lambda: tar_bytes([_tar_member("ModelNet10/h", tarfile.LNKTYPE, "/etc/passwd")], "w"),
        "hardlink",
    ),
    "tar-device": (
        "evil.tgz",
        lambda: tar_bytes([_tar_member("ModelNet10/dev", tarfile.CHRTYPE)]),
        "device",
    ),
    "tar-dotdot-late": (
        "evil.tgz",
        lambda: tar_bytes(
            [(tarfile.TarInfo("ModelNet10/fine.off"), OFF_TEXT),
             (tarfile.TarInfo("ModelNet10/../../escaped.off"), b"x")]
        ),
        "'..'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archives_are_refused_before_writing(case: str, tmp_path: Path):
    name, make, message = MALICIOUS[case]
    work = tmp_path / "work" / "inner"
    work.mkdir(parents=True)
    archive = work / name
    archive.write_bytes(make())
    with pytest.raises(DataError, match=message):
        extract_archive(archive, work / "ModelNet10", progress=False)
    assert sorted(p.name for p in work.iterdir()) == [name]  # no tree, no temp folder
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["work", "inner", name])
    assert not Path("/tmp/evil_abs").exists() and not Path("/tmp/switchvae_evil_abs").exists()


def test_malicious_download_leaves_no_tree(server: FileServer, tmp_path: Path):
    server.files["ModelNet10.zip"] = _zip_with("../evil")
    with pytest.raises(DataError, match="refusing to extract member '../evil'"):
        download_dataset(
            entry(server, "ModelNet10.zip", "ModelNet10", None), tmp_path / "d", progress=False
        )
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["ModelNet10.zip"]
    assert not (tmp_path / "evil").exists()


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_download_arguments(parser)
    return parser.parse_args(argv)


def test_cli_prints_terms_and_digest(server: FileServer, tmp_path: Path, capsys):
    data = modelnet_zip()
    server.files["ModelNet10.zip"] = data
    argv = ["modelnet10", "--to", str(tmp_path), "--mirror", base_url(server), "--no-progress"]
    assert run_download(_cli(argv)) == 0
    out = capsys.readouterr().out
    assert out.index("academic research") < out.index(sha(data))
    assert f"--sha256 ModelNet10.zip={sha(data)}" in out  # no published checksum: pin it
    assert (tmp_path / "ModelNet10" / "desk" / "test" / "desk_0001.off").is_file()


def test_cli_pinned_checksum_and_terms(server: FileServer, tmp_path: Path):
    server.files["ModelNet40.zip"] = modelnet_zip()
    url = ["--url-base", base_url(server), "--no-progress"]
    with pytest.raises(DataError, match="SHA-256"):
        run_download(_cli(["modelnet40", "--to", str(tmp_path), *url, "--sha256", f"ModelNet40.zip={'a' * 64}"]))  # fmt: skip
    with pytest.raises(DataError, match="FILE="):
        run_download(_cli(["modelnet40", "--to", str(tmp_path), *url, "--sha256", "x=12"]))
    with pytest.raises(DataError, match="--accept-terms"):
        run_download(_cli(["shapenet-r2n2", "--to", str(tmp_path), *url]))
    assert server.ranges_seen == [None]  # nothing fetched for ShapeNet without agreement
