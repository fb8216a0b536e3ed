"""Hostile and careless inputs walked through the command line (issue 10).

Each case of :data:`CASES` builds its inputs in a fresh folder, runs ``switchvae`` on them
and checks what a user sees: exit code 2, exactly one ``error:`` line naming the problem,
no traceback, and every file that was there before still there, byte for byte, with no
file added anywhere. The cases run in this process (an uncaught exception fails the test
as a traceback would); one runs as a real process too. A full disk is simulated with a
small tmpfs (root only: skipped with the reason otherwise). Bad *items* are not errors: a
run skips them and says so (the last tests).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from analysis_support import make_run
from reliability_support import CUBE_OFF, BoxSource, snapshot
from switchvae.cli import main
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.store.prepared import load_prepared

SMALL = ["--views", "2", "--image-size", "16", "--resolution", "8", "--workers", "1", "--no-progress"]  # fmt: skip
FIT = ["--preset", "tiny", "--set", "train.epochs=1", "--no-progress"]


@dataclass(frozen=True)
class Case:
    """One hostile input: how to set it up, the command, what the error line must say."""

    name: str
    argv: Callable[[Path], list[str]]
    expect: str
    setup: Callable[[Path], object] | None = None
    in_folder: bool = False  # run from inside the case's folder


def _user_partial(tmp: Path) -> None:
    (tmp / "d.partial").mkdir()
    (tmp / "d.partial" / "thesis.tex").write_text("my thesis")


def _user_folder(tmp: Path) -> None:
    (tmp / "u").mkdir()
    (tmp / "u" / "config.yaml").write_text("mine\n")
    (tmp / "u" / "log.jsonl").write_text("note\nnot json\n")


def _archive(members: dict[str, tuple[np.ndarray, tuple]], path: Path) -> None:
    """An .npz whose member headers may claim other shapes than the data they hold."""
    import io

    with zipfile.ZipFile(path, "w") as archive:
        for name, (array, shape) in members.items():
            buffer = io.BytesIO()
            header = {"descr": array.dtype.str, "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(buffer, header)
            buffer.write(array.tobytes())
            archive.writestr(f"{name}.npy", buffer.getvalue())


def _huge_label(tmp: Path) -> None:
    np.savez(
        tmp / "v.npz", X_train=np.ones((3, 8, 8, 8), np.uint8), y_train=np.array([0, 1, 10**9])
    )


def _lying_header(tmp: Path) -> None:
    grids, labels = np.ones((4, 8, 8, 8), np.uint8), np.arange(4) % 2
    _archive({"X_train": (grids, (10**6, 8, 8, 8)), "y_train": (labels, (4,))}, tmp / "v.npz")


def _tampered(how: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        manifest_path = tmp / "ds" / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        if how == "truncated views":
            views = tmp / "ds" / "train" / "views.npy"
            views.write_bytes(views.read_bytes()[:-64])
        elif how == "object labels":
            np.save(tmp / "ds" / "train" / "labels.npy", np.array([0, "a", None], dtype=object))
        elif how == "no resolution":
            del manifest["resolution"]
        elif how == "ids longer than arrays":
            manifest["splits"]["train"]["ids"].append("extra")
            manifest["splits"]["train"]["size"] += 1
        manifest_path.write_text(json.dumps(manifest))

    return setup


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_text(text)


def _run_with_garbage_checkpoint(tmp: Path) -> None:
    (tmp / "run" / "checkpoints").mkdir(parents=True)
    (tmp / "run" / "checkpoints" / "last.pt").write_bytes(b"\x80\x02" + os.urandom(3000))


def _truncated_test_views(tmp: Path) -> None:
    make_run(tmp, tmp / "ds")
    views = tmp / "ds" / "test" / "views.npy"
    views.write_bytes(views.read_bytes()[:-64])


def _fit(out: str, data: str = "ds") -> Callable[[Path], list[str]]:
    return lambda tmp: ["fit", "--data", str(tmp / data), "--out", str(tmp / out), *FIT]


def _voxels(tmp: Path) -> list[str]:
    return ["prepare", "voxels", "--npz", str(tmp / "v.npz"), "--out", str(tmp / "d"), *SMALL]


CASES = [
    # 1: a user's folder where the work folder would go
    Case("user folder named <out>.partial",
         lambda t: ["prepare", "synthetic", "--out", str(t / "d"), "--shapes-per-class", "1", *SMALL],
         r"d\.partial exists and was not made by switchvae", _user_partial),
    # 2: fit into a folder that is not a run, or into the dataset
    Case("fit into a folder of user files", _fit("u"), "is not a switchvae run", _user_folder),
    Case("fit into the dataset", _fit("ds"), "inside the dataset"),
    Case("fit into a folder inside the dataset", _fit("ds/train/run"), "inside the dataset"),
    # 5: small files asking for huge memory
    Case("label 10^9 without class names", _voxels, "label 1000000000 would make", _huge_label),
    Case("npz header claiming more rows", _voxels, "its header claims shape", _lying_header),
    # 6: tampered prepared datasets
    Case("truncated views.npy", _fit("r"), r"views\.npy: truncated", _tampered("truncated views")),
    Case("manifest without resolution", _fit("r"), "'resolution' is missing", _tampered("no resolution")),  # fmt: skip
    Case("object-dtype labels.npy", _fit("r"), r"labels\.npy: array .* object", _tampered("object labels")),  # fmt: skip
    Case("ids longer than the arrays", _fit("r"), r"voxels\.npy: array", _tampered("ids longer than arrays")),  # fmt: skip
    Case("evaluate on truncated views",
         lambda t: ["evaluate", str(t / "run_switch"), "--data", str(t / "ds"), "--device", "cpu",
                    "--workers", "0", "--no-progress"],
         r"views\.npy: truncated", _truncated_test_views),
    # 7: config files
    Case("YAML whose top level is a list",
         lambda t: [*_fit("r")(t), "--config", str(t / "c.yaml")],
         "expected a mapping of sections", _write("c.yaml", "- 1\n- 2\n")),
    Case("YAML reading an environment variable",
         lambda t: [*_fit("r")(t), "--config", str(t / "c.yaml")],
         r"train\.epochs: .* is an interpolation", _write("c.yaml", "train:\n  epochs: ${oc.env:HOME}\n")),  # fmt: skip
    Case("--set reading an environment variable",
         lambda t: [*_fit("r")(t), "--set", "train.precision=${oc.env:HOME}"], "is an interpolation"),  # fmt: skip
    Case("YAML with a python tag",
         lambda t: [*_fit("r")(t), "--config", str(t / "c.yaml")],
         "not valid YAML", _write("c.yaml", "train: !!python/object/apply:os.system ['true']\n")),  # fmt: skip
    # 8: options that used to end in a traceback
    Case("prepare --out . in an empty folder",
         lambda t: ["prepare", "synthetic", "--out", ".", "--shapes-per-class", "1", *SMALL],
         "name a new folder", in_folder=True),
    Case("a CUDA device that is not there",
         lambda t: ["evaluate", str(t / "run"), "--device", "cuda:64"], "--device cuda:64"),
    Case("interpolate 10^8 steps",
         lambda t: ["interpolate", str(t / "run"), "--a", "0", "--b", "1", "--steps", "100000000"],
         "--steps: expected at most 64"),
    # 10: minor
    Case("unreadable checkpoint",
         lambda t: ["evaluate", str(t / "run"), "--data", str(t / "ds"), "--device", "cpu"],
         "unreadable checkpoint", _run_with_garbage_checkpoint),
    Case("--seeds 0", lambda t: ["evaluate", str(t / "run"), "--seeds", "0"], "--seeds"),
]  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A tiny prepared dataset the tiny preset trains on (32³, 2 gray views of 32²)."""
    out = tmp_path_factory.mktemp("hostile") / "ds"
    settings = PrepareSettings(resolution=32, num_views=2, image_size=32)
    prepare_dataset(BoxSource(count=9), out, settings, progress=False)
    return out


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """``switchvae ARGV`` in this process: (exit code, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def assert_one_clear_line(code: int, stderr: str, expect: str) -> None:
    """Exit 2, one ``error:`` line matching ``expect``, no traceback."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("switchvae"), errors[0]
    assert re.search(expect, errors[0]), errors[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_one_clear_line(case: Case, tmp_path: Path, dataset: Path, capsys, monkeypatch):  # fmt: skip
    shutil.copytree(dataset, tmp_path / "ds")
    if case.setup is not None:
        case.setup(tmp_path)
    before = snapshot(tmp_path)
    if case.in_folder:
        (tmp_path / "here").mkdir()
        monkeypatch.chdir(tmp_path / "here")
        before = snapshot(tmp_path)
    code, stderr = run_cli(case.argv(tmp_path), capsys)
    assert_one_clear_line(code, stderr, case.expect)
    assert snapshot(tmp_path) == before, "a file or folder was changed, added or removed"


def test_a_hostile_input_as_a_real_process(tmp_path: Path):
    _user_partial(tmp_path)
    argv = ["prepare", "synthetic", "--out", str(tmp_path / "d"), "--shapes-per-class", "1", *SMALL]
    result = subprocess.run([sys.executable, "-m", "switchvae", *argv], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "d.partial exists and was not made by switchvae" in result.stderr
    assert (tmp_path / "d.partial" / "thesis.tex").read_text() == "my thesis"


# --- 3: a full disk -----------------------------------------------------------------------


def test_prepare_on_a_full_disk(small_disk, capsys):
    disk = small_disk("1m")
    argv = ["prepare", "synthetic", "--out", str(disk / "ds"), "--shapes-per-class", "20"]
    code, stderr = run_cli([*argv, "--workers", "1", "--no-progress"], capsys)
    assert_one_clear_line(code, stderr, "not enough free space for the dataset")
    assert not os.listdir(disk)


def test_fit_on_a_full_disk_names_the_run_directory(small_disk, dataset: Path, capsys):
    disk = small_disk("1m")
    code, stderr = run_cli(
        ["fit", "--data", str(dataset), "--out", str(disk / "run"), *FIT], capsys
    )
    assert_one_clear_line(code, stderr, f"device holding the run directory {disk / 'run'}")


# --- 9: one writer per output -------------------------------------------------------------


def test_a_second_prepare_while_one_is_writing(tmp_path: Path, capsys):
    from switchvae.data.store.output_dir import work_dir

    out = tmp_path / "d"
    argv = ["prepare", "synthetic", "--out", str(out), "--shapes-per-class", "1", *SMALL]
    with work_dir(out, ".partial", "prepare"):
        before = snapshot(tmp_path)
        code, stderr = run_cli(argv, capsys)
        assert snapshot(tmp_path) == before
    assert_one_clear_line(code, stderr, f"another prepare is writing {out}")


def test_two_prepares_started_together(tmp_path: Path):
    out = tmp_path / "d"
    argv = ["prepare", "synthetic", "--out", str(out), "--shapes-per-class", "2", *SMALL]
    command = [sys.executable, "-m", "switchvae", *argv]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    for code, _stdout, stderr in results:
        assert "Traceback" not in stderr
        assert code == 0 or (code == 2 and "another prepare is writing" in stderr), stderr
    assert any(code == 0 for code, _, _ in results)
    assert len(load_prepared(out, "train")) > 0
    assert sorted(os.listdir(tmp_path)) == ["d"]


# --- 4: a bad item is skipped, the run goes on --------------------------------------------


def test_a_binvox_with_a_huge_grid_is_skipped(r2n2_root: Path, tmp_path: Path, capsys):
    root = tmp_path / "r2n2"
    shutil.copytree(r2n2_root, root)
    chairs = root / "ShapeNetVox32" / "03001627"
    bad = sorted(p.name for p in chairs.iterdir())[0]
    header = b"#binvox 1\ndim 99999999999999999999999 1 1\ntranslate 0 0 0\nscale 1\ndata\n"
    (chairs / bad / "model.binvox").write_bytes(header + b"\x00\xff")
    argv = ["prepare", "shapenet-r2n2", "--voxels", str(root / "ShapeNetVox32"),
            "--renderings", str(root / "ShapeNetRendering"), "--categories", "chair",
            "--views", "2", "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]  # fmt: skip
    code, _ = run_cli(argv, capsys)
    assert code == 0
    skipped = [json.loads(line) for line in (tmp_path / "out" / "skipped.jsonl").read_text().splitlines()]  # fmt: skip
    reasons = {s["item_id"]: s["reason"] for s in skipped}
    assert "larger than the 512³" in reasons[f"03001627/{bad}"]


def test_a_mesh_file_name_that_is_not_utf8_is_prepared(tmp_path: Path, capsys):
    folder = tmp_path / "meshes" / "box"
    folder.mkdir(parents=True)
    for name in (b"a.off", b"b.off", b"\xff\xfe.off"):
        (folder / os.fsdecode(name)).write_text(CUBE_OFF)
    argv = ["prepare", "meshes", "--root", str(tmp_path / "meshes"), "--test-fraction", "0",
            "--val-fraction", "0", "--out", str(tmp_path / "out"), *SMALL]  # fmt: skip
    code, _ = run_cli(argv, capsys)
    assert code == 0
    assert "box/\\xff\\xfe.off" in load_prepared(tmp_path / "out", "train").ids
