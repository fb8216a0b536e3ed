"""The embedded synthetic shape set: procedural everyday objects, items, splits, a 1-NN probe.

Every item carries its own integer seed, derived from (set seed, class name, index), so
its mesh can be rebuilt alone in any worker (:func:`make_item_mesh`). Shapes come from the
class generators in :mod:`switchvae.data.sources.shapes`; each is then stretched a little along
each axis (proportions vary within a class, as between CAD models) and turned a little
about the up axis (they stay roughly front-facing, like ShapeNet's aligned models).

Difficulty is set by geometry, not noise: classes share parts and sub-types (lounge chairs
and armchairs, daybeds and sofas, console tables and desks, vase lamps and bottles,
tumblers and bottles), so a 1-nearest-neighbour classifier on the raw 32³ grids
(:func:`nearest_neighbour_accuracy`, train -> test) scores about 0.81 at 60 shapes per
class and 0.88 at 200, near real ModelNet10's ~0.84 (``benchmarks/synthetic_difficulty.py``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import trimesh

from switchvae.data.sources.shapes import CLASS_GENERATORS
from switchvae.data.sources.shapes.parts import combine
from switchvae.errors import DataError

SYNTHETIC_CLASSES: tuple[str, ...] = tuple(CLASS_GENERATORS)
"""Class names in label order."""

SPLITS = ("train", "val", "test")
"""Split names, in the order of ``split_fractions``."""

DEFAULT_SPLIT_FRACTIONS = (0.7, 0.1, 0.2)
"""Train / val / test share of each class."""

MAX_YAW_DEGREES = 10.0
"""Largest random turn about the up axis (uniform in +-this)."""

MAX_LOG_STRETCH = 0.17
"""Per-axis scale factors are exp(uniform(+-this)), i.e. 0.84-1.19 (log-std 0.1)."""

ID_DIGITS = 4
"""Zero-padded width of the index in an item id (``chair_0007``)."""

NN_CHUNK_ROWS = 256
"""Test grids compared against the whole reference set at once by the 1-NN probe."""


@dataclass(frozen=True)
class SyntheticItem:
    """One synthetic shape: enough to rebuild its mesh alone.

    Attributes:
        item_id: ``<class>_<index>``, e.g. ``chair_0007``.
        class_name: one of :data:`SYNTHETIC_CLASSES`.
        label: index of ``class_name`` in :data:`SYNTHETIC_CLASSES`.
        split: ``train``, ``val`` or ``test``.
        seed: seed of the generator that builds the mesh.
    """

    item_id: str
    class_name: str
    label: int
    split: str
    seed: int


def make_shape(class_name: str, rng: np.random.Generator) -> trimesh.Trimesh:
    """Build one random shape of a class, y up, front towards +z, in object units.

    Args:
        class_name: one of :data:`SYNTHETIC_CLASSES`.
        rng: random generator; the shape is a deterministic function of its state.

    Returns:
        Mesh of the overlapping parts (not normalized; the voxelizer normalizes).

    Raises:
        DataError: unknown class name.
    """
    if class_name not in CLASS_GENERATORS:
        raise DataError(f"unknown synthetic class {class_name!r}; known: {SYNTHETIC_CLASSES}")
    mesh = combine(CLASS_GENERATORS[class_name](rng))
    mesh.apply_scale(np.exp(rng.uniform(-MAX_LOG_STRETCH, MAX_LOG_STRETCH, size=3)))
    yaw = np.deg2rad(rng.uniform(-MAX_YAW_DEGREES, MAX_YAW_DEGREES))
    mesh.apply_transform(trimesh.transformations.rotation_matrix(yaw, [0.0, 1.0, 0.0]))
    return mesh


def item_seed(seed: int, class_name: str, index: int) -> int:
    """Seed of one item, independent of the class list and of the other items.

    Args:
        seed: seed of the whole set.
        class_name: the item's class.
        index: the item's index within its class.

    Returns:
        A 63-bit non-negative integer.
    """
    class_key = zlib.crc32(class_name.encode("utf-8"))
    state = np.random.SeedSequence([int(seed), class_key, int(index)]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def make_item_mesh(item: SyntheticItem) -> trimesh.Trimesh:
    """Rebuild an item's mesh from its own seed.

    Args:
        item: the item.

    Returns:
        The same mesh every time, in any process.
    """
    return make_shape(item.class_name, np.random.default_rng(item.seed))


def _split_counts(count: int, fractions: tuple[float, float, float]) -> list[int]:
    """Items of one class per split: train and val rounded, test takes the rest."""
    train = round(count * fractions[0])
    val = min(round(count * fractions[1]), count - train)
    return [train, val, count - train - val]


def _check_fractions(fractions: tuple[float, float, float]) -> tuple[float, float, float]:
    """Return the fractions as floats, or raise DataError unless 3 non-negative summing to 1."""
    values = [float(f) for f in fractions]
    if len(values) != len(SPLITS) or min(values) < 0 or not np.isclose(sum(values), 1.0):
        raise DataError(
            f"split_fractions={fractions!r} must be 3 non-negative numbers (train, val, test) "
            "summing to 1"
        )
    return values[0], values[1], values[2]


def synthetic_items(
    shapes_per_class: int,
    seed: int,
    split_fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS,
) -> list[SyntheticItem]:
    """List the items of a synthetic set: every class, stratified deterministic splits.

    Within each class the indices are shuffled by a generator seeded from (seed, class),
    then cut into train / val / test by ``split_fractions``.

    Args:
        shapes_per_class: items per class (>= 1).
        seed: seed of the whole set.
        split_fractions: (train, val, test) shares, summing to 1.

    Returns:
        ``len(SYNTHETIC_CLASSES) * shapes_per_class`` items, class by class, by index.

    Raises:
        DataError: bad size or fractions.
    """
    if int(shapes_per_class) != shapes_per_class or shapes_per_class < 1:
        raise DataError(f"shapes_per_class={shapes_per_class!r} must be a positive integer")
    fractions = _check_fractions(split_fractions)
    items = []
    for label, name in enumerate(SYNTHETIC_CLASSES):
        order_rng = np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])
        split_of = np.repeat(np.arange(len(SPLITS)), _split_counts(shapes_per_class, fractions))
        split_of = split_of[np.argsort(order_rng.permutation(shapes_per_class))]
        for index in range(shapes_per_class):
            items.append(
                SyntheticItem(
                    item_id=f"{name}_{index:0{ID_DIGITS}d}",
                    class_name=name,
                    label=label,
                    split=SPLITS[split_of[index]],
                    seed=item_seed(seed, name, index),
                )
            )
    return items


def _flat_grids(voxels: np.ndarray, labels: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Check a stack of grids and its labels; return (N, D³) float32 and (N,) labels."""
    voxels, labels = np.asarray(voxels), np.asarray(labels).reshape(-1)
    if voxels.ndim < 2 or len(voxels) != len(labels) or len(voxels) == 0:
        raise DataError(
            f"{name}: need a non-empty (N, D, D, D) grid stack and N labels, "
            f"got grids {voxels.shape} and {labels.shape[0]} labels"
        )
    return voxels.reshape(len(voxels), -1).astype(np.float32), labels


def nearest_neighbour_accuracy(
    train_voxels: np.ndarray,
    train_labels: np.ndarray,
    test_voxels: np.ndarray,
    test_labels: np.ndarray,
) -> float:
    """Accuracy of a 1-nearest-neighbour classifier under Hamming distance on raw grids.

    Hamming(a, b) = |a| + |b| - 2 a.b, with the dot products taken as float32 matrix
    products (exact for grids up to 2^24 voxels), NN_CHUNK_ROWS test grids at a time.
    Ties go to the first reference grid.

    Args:
        train_voxels: bool/0-1 (N, D, D, D) reference grids.
        train_labels: (N,) their labels.
        test_voxels: bool/0-1 (M, D, D, D) query grids, same D.
        test_labels: (M,) their labels.

    Returns:
        Fraction of query grids whose nearest reference grid has the same label.

    Raises:
        DataError: empty or mismatched inputs.
    """
    reference, reference_labels = _flat_grids(train_voxels, train_labels, "train")
    queries, query_labels = _flat_grids(test_voxels, test_labels, "test")
    if reference.shape[1] != queries.shape[1]:
        raise DataError(f"grid sizes differ: train {reference.shape[1]}, test {queries.shape[1]}")
    reference_counts = reference.sum(axis=1)
    correct = 0
    for start in range(0, len(queries), NN_CHUNK_ROWS):
        chunk = queries[start : start + NN_CHUNK_ROWS]
        distance = reference_counts[None, :] - 2.0 * (chunk @ reference.T)
        nearest = np.argmin(distance, axis=1)
        correct += int(
            np.sum(reference_labels[nearest] == query_labels[start : start + len(chunk)])
        )
    return correct / len(queries)
