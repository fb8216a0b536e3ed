"""Reproducible, resumable, shardable data order for training and validation.

Training order is a function of (seed, epoch) only: a permutation of the split cut into
*global* batches of ``batch_size × world_size``; process ``rank`` takes its slice of each.
So one process with batch 4 and two processes with batch 2 see the same global batches,
and a resumed run skips the batches already done by starting at ``start_batch``.

The random part of each sample (which views, RGBA background) is seeded per item and
epoch, not by the global RNG or a worker's RNG: the same sample comes out whatever the
number of workers, processes, or where the run was resumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from switchvae.data.store.prepared import PreparedDataset, Sample

ITEM_SEED_BOUND = 2**31 - 1
DATA_ORDER_STREAM = 0  # tag of the data-order seeds (other streams use other tags)
VAL_LOADER_SEED = 0  # DataLoader iterators draw a base seed; keep it off the global RNG


def mixed_seed(*values: int) -> int:
    """One 63-bit seed from several integers, well mixed by NumPy's SeedSequence."""
    state = np.random.SeedSequence(list(values)).generate_state(1, dtype=np.uint64)[0]
    return int(state) & (2**63 - 1)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator seeded from (seed, epoch): the data order of that epoch."""
    return torch.Generator().manual_seed(mixed_seed(seed, DATA_ORDER_STREAM, epoch))


@dataclass
class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(item index, item seed)`` for this process's share of one epoch.

    Attributes:
        size: items in the split.
        batch_size: per-process batch size.
        seed: run seed.
        rank, world_size: this process and the number of processes.
        epoch: which epoch's permutation (set before each epoch).
        start_batch: batches of the epoch already done (skipped; for resume).
    """

    size: int
    batch_size: int
    seed: int
    rank: int = 0
    world_size: int = 1
    epoch: int = 0
    start_batch: int = 0

    @property
    def batches_per_epoch(self) -> int:
        """Full global batches per epoch (the last partial one is dropped)."""
        return self.size // (self.batch_size * self.world_size)

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.start_batch) * self.batch_size

    def generator(self) -> torch.Generator:
        """The data-order generator of ``self.epoch``, fresh (as at the epoch start)."""
        return epoch_generator(self.seed, self.epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = self.generator()
        order = torch.randperm(self.size, generator=generator).tolist()
        item_seeds = torch.randint(ITEM_SEED_BOUND, (self.size,), generator=generator).tolist()
        global_batch = self.batch_size * self.world_size
        for batch in range(self.start_batch, self.batches_per_epoch):
            first = batch * global_batch + self.rank * self.batch_size
            for index in order[first : first + self.batch_size]:
                yield index, item_seeds[index]


class SeededItems(Dataset):
    """Wraps a :class:`PreparedDataset`: item ``(index, seed)`` is ``base[index]`` drawn
    with the global torch RNG seeded by ``seed`` (restored afterwards)."""

    def __init__(self, base: PreparedDataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int]) -> Sample:
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.base[index]


def train_loader(dataset: PreparedDataset, sampler: EpochSampler, num_workers: int) -> DataLoader:
    """DataLoader over ``sampler``'s keys, batches of ``sampler.batch_size``."""
    return DataLoader(
        SeededItems(dataset),
        batch_size=sampler.batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=True,
        generator=torch.Generator().manual_seed(sampler.seed),
    )


class _Shard(Dataset):
    def __init__(self, base: Dataset, indices: list[int]) -> None:
        self.base, self.indices = base, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> Sample:
        return self.base[self.indices[position]]


def eval_loader(
    dataset: PreparedDataset, batch_size: int, num_workers: int, rank: int = 0, world_size: int = 1
) -> DataLoader:
    """Fixed-order DataLoader over items ``rank, rank + world_size, ...`` (no padding)."""
    shard = _Shard(dataset, list(range(rank, len(dataset), world_size)))
    return DataLoader(
        shard,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(VAL_LOADER_SEED),
    )
