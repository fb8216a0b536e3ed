"""Shared test fixtures: paths to the real-data samples beside the repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real-data fixture not found: {path.relative_to(REPO_ROOT.parent)}")
    return path


@pytest.fixture(scope="session")
def r2n2_root() -> Path:
    """The ShapeNet sample in 3D-R2N2 layout (ShapeNetVox32/, ShapeNetRendering/, ShapeNet.json)."""
    return _require(FIXTURES / "shapenet_r2n2_sample")


@pytest.fixture(scope="session")
def modelnet_root() -> Path:
    """Real ModelNet meshes in the official <class>/{train,test}/*.off layout."""
    return _require(FIXTURES / "modelnet_off")


@pytest.fixture(scope="session")
def modelnet_meshes(modelnet_root: Path) -> list[Path]:
    """All fixture OFF files, sorted."""
    return sorted(modelnet_root.rglob("*.off"))


@pytest.fixture
def small_disk(tmp_path: Path):
    """A factory mounting a small tmpfs (e.g. ``small_disk("1m")``) to simulate a full disk.

    Needs root and a kernel that lets this process mount; the test is skipped (with the
    reason) otherwise. Everything mounted is unmounted afterwards.
    """
    mounted: list[Path] = []

    def mount(size: str, name: str = "disk") -> Path:
        if os.geteuid() != 0:
            pytest.skip("a full disk is simulated with a small tmpfs, which needs root")
        path = tmp_path / name
        path.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def resize_disk(path: Path, size: str) -> None:
    """Grow or shrink a tmpfs mounted by ``small_disk``."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)
