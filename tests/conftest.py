"""Shared test fixtures: paths to the real-data samples beside the repository."""

from __future__ import annotations

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
