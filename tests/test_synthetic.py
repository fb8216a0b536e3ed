"""The embedded synthetic shape set: determinism, orientation, splits, the 1-NN probe."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
import trimesh

from switchvae.data.geometry.voxelize import voxelize_mesh
from switchvae.data.sources.synthetic_set import (
    SPLITS,
    SYNTHETIC_CLASSES,
    SyntheticItem,
    make_item_mesh,
    make_shape,
    nearest_neighbour_accuracy,
    synthetic_items,
)
from switchvae.errors import DataError

SAMPLES_PER_CLASS = 8
"""Shapes drawn per class by the geometry tests."""

TALL_CLASSES = ("lamp", "bottle")
FLAT_CLASSES = ("car", "airplane")
BACK_AT_MINUS_Z = ("chair", "sofa", "bed", "airplane")
"""Classes whose highest part (backrest, headboard, tail fin) is at the back, -z."""


def _shapes(class_name: str, count: int = SAMPLES_PER_CLASS) -> list[trimesh.Trimesh]:
    return [make_shape(class_name, np.random.default_rng(seed)) for seed in range(count)]


def test_item_mesh_is_reproducible_from_its_seed_alone() -> None:
    items = synthetic_items(3, seed=11)
    for item in items[::3]:
        first, again = make_item_mesh(item), make_item_mesh(item)
        np.testing.assert_array_equal(first.vertices, again.vertices)
        np.testing.assert_array_equal(first.faces, again.faces)
    # the same item from a bigger set (another worker, another run) builds the same mesh
    bigger = {item.item_id: item for item in synthetic_items(7, seed=11)}
    for item in items[::5]:
        twin = bigger[item.item_id]
        assert twin.seed == item.seed
        np.testing.assert_array_equal(make_item_mesh(twin).vertices, make_item_mesh(item).vertices)


@pytest.mark.parametrize("class_name", SYNTHETIC_CLASSES)
def test_different_seeds_give_different_shapes(class_name: str) -> None:
    a, b = _shapes(class_name, 2)
    assert a.vertices.shape != b.vertices.shape or not np.allclose(a.vertices, b.vertices)
    assert not np.allclose(a.extents / a.extents.max(), b.extents / b.extents.max(), atol=1e-3)


@pytest.mark.parametrize("class_name", SYNTHETIC_CLASSES)
def test_every_class_gives_a_valid_mesh_that_voxelizes(class_name: str) -> None:
    for mesh in _shapes(class_name, 3):
        assert isinstance(mesh, trimesh.Trimesh)
        assert len(mesh.faces) > 0 and np.isfinite(mesh.vertices).all()
        assert mesh.faces.min() >= 0 and mesh.faces.max() < len(mesh.vertices)
        assert mesh.area > 0
        grid = voxelize_mesh(mesh, resolution=32)
        assert grid.shape == (32, 32, 32) and 0.005 < grid.mean() < 0.6


@pytest.mark.parametrize("class_name", TALL_CLASSES)
def test_tall_classes_are_taller_than_wide(class_name: str) -> None:
    ratios = [mesh.extents[1] / mesh.extents[0] for mesh in _shapes(class_name)]
    assert np.median(ratios) > 1.3


@pytest.mark.parametrize("class_name", FLAT_CLASSES)
def test_vehicles_are_longer_or_wider_than_tall(class_name: str) -> None:
    for mesh in _shapes(class_name):
        x, y, z = mesh.extents
        assert max(x, z) > 1.5 * y


@pytest.mark.parametrize("class_name", BACK_AT_MINUS_Z)
def test_fronts_face_plus_z(class_name: str) -> None:
    offsets = []
    for mesh in _shapes(class_name):
        low, high = mesh.bounds
        top = mesh.vertices[mesh.vertices[:, 1] > low[1] + 0.8 * (high[1] - low[1])]
        offsets.append((top[:, 2].mean() - (low[2] + high[2]) / 2) / mesh.extents[2])
    assert np.mean(offsets) < -0.2


def test_unknown_class_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="unknown synthetic class 'spaceship'"):
        make_shape("spaceship", np.random.default_rng(0))


def test_items_ids_labels_and_stratified_splits() -> None:
    items = synthetic_items(10, seed=5)
    assert len(items) == 10 * len(SYNTHETIC_CLASSES)
    assert all(isinstance(item, SyntheticItem) for item in items)
    assert len({item.item_id for item in items}) == len(items)
    assert len({item.seed for item in items}) == len(items)
    for item in items:
        assert re.fullmatch(rf"{item.class_name}_\d{{4}}", item.item_id)
        assert SYNTHETIC_CLASSES[item.label] == item.class_name
        assert item.split in SPLITS
    per_class = Counter((item.class_name, item.split) for item in items)
    for name in SYNTHETIC_CLASSES:
        assert [per_class[name, split] for split in SPLITS] == [7, 1, 2]
    assert synthetic_items(10, seed=5) == items
    other = synthetic_items(10, seed=6)
    assert [i.split for i in other] != [i.split for i in items]
    assert {i.seed for i in other}.isdisjoint(i.seed for i in items)


def test_items_split_fractions_and_bad_arguments() -> None:
    items = synthetic_items(20, seed=0, split_fractions=(0.5, 0.25, 0.25))
    counts = Counter(item.split for item in items if item.class_name == "mug")
    assert counts == {"train": 10, "val": 5, "test": 5}
    with pytest.raises(DataError, match="shapes_per_class"):
        synthetic_items(0, seed=0)
    with pytest.raises(DataError, match="split_fractions"):
        synthetic_items(5, seed=0, split_fractions=(0.5, 0.3, 0.3))
    with pytest.raises(DataError, match="split_fractions"):
        synthetic_items(5, seed=0, split_fractions=(1.2, -0.2, 0.0))


def test_nearest_neighbour_accuracy_on_a_hand_made_case() -> None:
    empty = np.zeros((2, 2, 2), dtype=bool)
    full = np.ones((2, 2, 2), dtype=bool)
    corner = empty.copy()
    corner[0, 0, 0] = True
    train = np.stack([empty, full])
    train_labels = np.array([0, 1])
    almost_full = ~corner
    test = np.stack([corner, almost_full, corner])
    # corner is nearest to empty (distance 1 vs 7), almost_full to full (1 vs 7)
    assert nearest_neighbour_accuracy(train, train_labels, test, np.array([0, 1, 1])) == (
        pytest.approx(2 / 3)
    )
    assert nearest_neighbour_accuracy(train, train_labels, test, np.array([0, 1, 0])) == 1.0


def test_nearest_neighbour_accuracy_matches_brute_force_across_chunks() -> None:
    rng = np.random.default_rng(0)
    train = rng.random((40, 4, 4, 4)) < rng.random((40, 1, 1, 1))
    test = rng.random((300, 4, 4, 4)) < rng.random((300, 1, 1, 1))
    train_labels, test_labels = rng.integers(0, 3, 40), rng.integers(0, 3, 300)
    hamming = (test.reshape(300, 1, -1) != train.reshape(1, 40, -1)).sum(axis=2)
    expected = np.mean(train_labels[np.argmin(hamming, axis=1)] == test_labels)
    got = nearest_neighbour_accuracy(train, train_labels, test, test_labels)
    assert got == pytest.approx(expected)


def test_nearest_neighbour_accuracy_rejects_bad_input() -> None:
    grids = np.zeros((3, 4, 4, 4), dtype=bool)
    with pytest.raises(DataError):
        nearest_neighbour_accuracy(grids, np.zeros(2), grids, np.zeros(3))
    with pytest.raises(DataError):
        nearest_neighbour_accuracy(grids, np.zeros(3), grids[:0], np.zeros(0))
    with pytest.raises(DataError, match="grid sizes differ"):
        nearest_neighbour_accuracy(grids, np.zeros(3), np.zeros((3, 2, 2, 2)), np.zeros(3))


def test_small_set_is_hard_but_learnable_for_nearest_neighbour() -> None:
    items = [item for item in synthetic_items(20, seed=0) if item.split != "val"]
    grids = np.stack([voxelize_mesh(make_item_mesh(item), resolution=32) for item in items])
    labels = np.array([item.label for item in items])
    train = np.array([item.split == "train" for item in items])
    accuracy = nearest_neighbour_accuracy(
        grids[train], labels[train], grids[~train], labels[~train]
    )
    assert 0.5 < accuracy < 1.0
