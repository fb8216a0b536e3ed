"""`switchvae prepare synthetic` as a user runs it: help, errors, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from switchvae.cli import main
from switchvae.data import load_prepared

SMALL = ["--shapes-per-class", "3", "--views", "2", "--image-size", "32", "--resolution", "16"]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "switchvae.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("argv", [["--help"], ["prepare", "--help"], ["prepare", "synthetic", "--help"], ["demo", "--help"]])  # fmt: skip
def test_help_exits_zero(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_bad_option_is_one_line_and_nonzero(tmp_path: Path):
    result = run_cli("prepare", "synthetic", "--out", str(tmp_path / "d"), "--views", "0")
    assert result.returncode == 2
    assert "positive integer" in result.stderr and "Traceback" not in result.stderr


def test_bad_resolution_is_a_clear_error(tmp_path: Path, capsys):
    code = main(["prepare", "synthetic", "--out", str(tmp_path / "d"), "--resolution", "12"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "resolution=12" in err[0]


def test_foreign_out_directory_is_refused_and_kept(tmp_path: Path, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "cat.jpg").write_bytes(b"not a dataset")
    code = main(["prepare", "synthetic", "--out", str(out), *SMALL, "--no-progress"])
    assert code == 2
    assert "not a prepared dataset" in capsys.readouterr().err
    assert (out / "cat.jpg").read_bytes() == b"not a dataset"


def test_prepare_synthetic_end_to_end(tmp_path: Path, capsys):
    out = tmp_path / "synthetic"
    code = main(["prepare", "synthetic", "--out", str(out), *SMALL, "--workers", "1", "--no-progress"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "1-nearest-neighbour" in printed
    train = load_prepared(out, "train")
    assert train.voxels(0).shape == (16, 16, 16) and train.voxels(0).any()
    assert train.views(0).shape == (2, 32, 32, 1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["classes"]) >= 10
    assert 0.0 <= manifest["stats"]["voxel_1nn_test_accuracy"] <= 1.0
    # a second run reuses the finished dataset
    assert main(["prepare", "synthetic", "--out", str(out), *SMALL, "--no-progress"]) == 0
    assert "reused" in capsys.readouterr().out


def test_kill_9_then_resume_redoes_nothing_finished(tmp_path: Path):
    out = tmp_path / "synthetic"
    args = ["prepare", "synthetic", "--out", str(out), *SMALL, "--shapes-per-class", "6",
            "--workers", "1", "--chunk-size", "2", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "switchvae.cli", *args])
    done_dir = tmp_path / "synthetic.partial" / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(done_dir.glob("*.json"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in done_dir.glob("*.json")}
    assert len(finished) >= 3 and not out.exists()

    result = run_cli(*args[:-1], "--no-progress")
    assert result.returncode == 0, result.stderr
    resumed = [line for line in result.stderr.splitlines() if "resuming" in line]
    assert resumed, result.stderr
    already_done = int(resumed[0].split(": ")[-1].split(" of ")[0])
    assert already_done >= 2 * len(finished)
    assert not done_dir.exists() and out.exists()

    reference = tmp_path / "reference"
    assert run_cli(*[reference.as_posix() if a == str(out) else a for a in args]).returncode == 0
    for split in ("train", "val", "test"):
        a, b = load_prepared(out, split), load_prepared(reference, split)
        assert a.ids == b.ids
        for k in range(len(a)):
            np.testing.assert_array_equal(a.voxels(k), b.voxels(k))
            np.testing.assert_array_equal(a.views(k), b.views(k))
