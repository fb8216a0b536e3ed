"""Seed-stable, per-class hold-out of items (validation and test splits carved from a pool).

Each item gets a rank from a hash of (seed, item key); within each class, the lowest-ranked
items are held out. The choice of an item depends only on its own key, the seed and the
size of its class, never on file-system order, so a re-run (or another machine) picks the
same items.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence

from switchvae.data.sources.base import ItemSpec
from switchvae.errors import ConfigError


def check_fraction(value: float, name: str) -> float:
    """Return ``value`` as a float if 0 <= value < 1, else raise ConfigError naming it."""
    fraction = float(value)
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"{name}={value!r} must be a fraction in [0, 1)")
    return fraction


def held_out_count(fraction: float, class_size: int) -> int:
    """Items of a class of ``class_size`` held out for ``fraction``: round half up."""
    return math.floor(fraction * class_size + 0.5)


def _rank(seed: int, key: str) -> str:
    # surrogateescape: a file name that is not valid UTF-8 hashes as its own bytes
    return hashlib.sha256(f"{seed}/{key}".encode("utf-8", "surrogateescape")).hexdigest()


def stratified_assign(
    keys: Sequence[str],
    labels: Sequence[int],
    fractions: Sequence[tuple[str, float]],
    rest: str,
    seed: int,
) -> list[str]:
    """Assign each item to a split, per class, by hashed rank.

    Args:
        keys: (N,) unique item keys (ids or relative paths).
        labels: (N,) class of each item.
        fractions: ``[(split, fraction), ...]``: per class, the first ``round(fraction * n)``
            items by rank go to the first split, the next ones to the second, ...; the
            last item of a class always stays in ``rest``.
        rest: the split of the remaining items.
        seed: seed of the hash ranking.

    Returns:
        (N,) split name per item, in input order.

    Raises:
        ConfigError: a fraction outside [0, 1) or fractions summing to 1 or more.
    """
    total = sum(check_fraction(f, f"{name} fraction") for name, f in fractions)
    if total >= 1.0:
        raise ConfigError(f"split fractions sum to {total:g}; they must leave some items in {rest}")
    by_class: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_class[int(label)].append(index)
    assigned = [rest] * len(keys)
    for members in by_class.values():
        ranked = sorted(members, key=lambda i: _rank(seed, keys[i]))
        start = 0
        for name, fraction in fractions:
            # at least one item of every class stays in ``rest``
            count = min(held_out_count(fraction, len(ranked)), len(ranked) - 1 - start)
            for index in ranked[start : start + count]:
                assigned[index] = name
            start += count
    return assigned


def carve_validation(items: list[ItemSpec], fraction: float, seed: int) -> list[ItemSpec]:
    """Move ``fraction`` of each class's train items to "val" (stratified, seed-stable).

    Args:
        items: the items of every split; ids must be unique within train.
        fraction: share of each class's train items to move, in [0, 1).
        seed: seed of the hash ranking.

    Returns:
        The items in the same order, some train items now in "val".
    """
    train = [item for item in items if item.split == "train"]
    if not fraction or not train:
        return list(items)
    keys = [item.item_id for item in train]
    splits = stratified_assign(keys, [i.label for i in train], [("val", fraction)], "train", seed)
    moved = {key for key, split in zip(keys, splits, strict=True) if split == "val"}
    return [
        ItemSpec(item.item_id, item.label, "val", item.payload)
        if item.split == "train" and item.item_id in moved
        else item
        for item in items
    ]
