"""The prepared-dataset format: a manifest plus memory-mapped arrays, and its reader.

Layout of a prepared dataset directory::

    manifest.json          format name + version, source, grid and camera settings,
                           class names in label order, per-split sizes and item ids
    <split>/voxels.npy     uint8 (N, D**3 // 8)   occupancy bit-packed with np.packbits,
                                                  grid flattened in (x, y, z) C order
    <split>/views.npy      uint8 (N, V, H, W, C)  C = 1 (gray), 3 (RGB) or 4 (RGBA)
    <split>/labels.npy     int64 (N,)

Arrays are opened with ``mmap_mode="r"`` and read one item at a time, so a dataset is
never loaded whole. A dataset is complete only when ``manifest.json`` exists: writers build
it under a temporary name and rename it into place at the end (see ``switchvae.data.pipeline.prepare``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from torch.utils.data import Dataset

from switchvae.data.store.manifest import Manifest
from switchvae.data.store.prepared_check import check_manifest, check_split_files
from switchvae.errors import DataError

FORMAT_NAME = "switchvae-prepared"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")
VOXELS_FILE = "voxels.npy"
VIEWS_FILE = "views.npy"
LABELS_FILE = "labels.npy"

# Background fill for RGBA renders (3D-R2N2 ShapeNetRendering), as the SwitchVAE public
# code does: a random light colour per channel in [225, 255] in training, gray 240 otherwise.
TRAIN_BACKGROUND_RANGE = (225, 255)
EVAL_BACKGROUND = 240


class Sample(TypedDict):
    """One item of a :class:`PreparedDataset` (batched by the DataLoader: B leading).

    voxels: float32 (1, D, D, D) in {0, 1};  views: float32 (V, C, H, W) in [0, 1] with
    C in {1, 3};  label: int64 scalar;  index: int (position in the split).
    """

    voxels: torch.Tensor
    views: torch.Tensor
    label: torch.Tensor
    index: int


def pack_voxels(grid: np.ndarray) -> np.ndarray:
    """Bit-pack an occupancy grid.

    Args:
        grid: bool or {0,1} array (D, D, D) in (x, y, z) order.
    Returns:
        uint8 (D**3 // 8,).
    """
    return np.packbits(np.asarray(grid, dtype=bool).reshape(-1))


def unpack_voxels(packed: np.ndarray, resolution: int) -> np.ndarray:
    """Inverse of :func:`pack_voxels`: uint8 (D**3 // 8,) -> bool (D, D, D)."""
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), count=resolution**3)
    return bits.astype(bool).reshape(resolution, resolution, resolution)


def read_manifest(path: str | Path) -> Manifest:
    """Read and check ``manifest.json`` of a prepared dataset directory (a typed :class:`Manifest`).

    Raises:
        DataError: the directory is not a complete prepared dataset of a known version, or
            its manifest lacks a key the readers need (see :mod:`.prepared_check`).
    """
    root = Path(path)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise DataError(
            f"{root}: not a prepared dataset (no {MANIFEST}); "
            "create one with `switchvae prepare ... --out DIR`"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{manifest_path}: unreadable manifest ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise DataError(f"{manifest_path}: not a {FORMAT_NAME} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{manifest_path}: format version {manifest.get('format_version')} is not "
            f"supported (this package reads version {FORMAT_VERSION}); re-run prepare"
        )
    check_manifest(manifest, manifest_path)
    return Manifest.from_dict(manifest)


def is_prepared_dataset(path: str | Path) -> bool:
    """True when ``path`` holds a complete prepared dataset."""
    try:
        read_manifest(path)
    except DataError:
        return False
    return True


@dataclass(frozen=True)
class ViewSelection:
    """How many stored views a sample returns and which.

    ``mode="first"`` takes views 0..num_views-1 (evaluation, public code: first 8);
    ``mode="random"`` takes a random subset of num_views in random order (training);
    ``num_views=None`` returns every stored view.
    """

    num_views: int | None = None
    mode: str = "first"

    def pick(self, available: int, generator: torch.Generator | None) -> np.ndarray:
        """Indices (V,) of the views to return out of ``available`` stored ones."""
        count = available if self.num_views is None else self.num_views
        if not 1 <= count <= available:
            raise DataError(f"asked for {count} views but the dataset stores {available}")
        if self.mode == "first":
            return np.arange(count)
        if self.mode == "random":
            return torch.randperm(available, generator=generator)[:count].numpy()
        raise DataError(f"view selection mode must be 'first' or 'random', got {self.mode!r}")


class PreparedDataset(Dataset):
    """One split of a prepared dataset, read lazily through memory maps.

    Args:
        root: the prepared dataset directory.
        split: "train", "val" or "test".
        view_selection: which views each sample returns (see :class:`ViewSelection`).
        train_background: RGBA data only — random light background (True) or gray 240.
        rotate: augment each sample by a random quarter turn about the up axis, applied to
            both inputs so they stay consistent: ``np.rot90`` of the grid in its (z, x)
            plane and a cyclic shift of the view ring by V/4 (exact for ``ring`` cameras;
            needs V % 4 == 0, see :func:`check_rotatable`).
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        view_selection: ViewSelection | None = None,
        train_background: bool = False,
        rotate: bool = False,
    ) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        if split not in self.manifest.splits:
            known = ", ".join(self.manifest.splits)
            raise DataError(f"{self.root}: no split {split!r} (has: {known})")
        self.split = split
        self.view_selection = view_selection or ViewSelection()
        self.train_background = train_background
        self.resolution = self.manifest.resolution
        self.classes: list[str] = list(self.manifest.classes)
        self.ids: list[str] = list(self.manifest.splits[split]["ids"])
        names = (VOXELS_FILE, VIEWS_FILE, LABELS_FILE)
        self.labels: np.ndarray = check_split_files(self.root, self.manifest, split, names)
        self._voxels: np.ndarray | None = None
        self._views: np.ndarray | None = None
        self.rotate = rotate
        if rotate:
            check_rotatable(self.manifest, self.root)

    def __len__(self) -> int:
        return len(self.ids)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        # Opened on first use so each DataLoader worker maps the files itself.
        if self._voxels is None or self._views is None:
            split_dir = self.root / self.split
            self._voxels = np.load(split_dir / VOXELS_FILE, mmap_mode="r")
            self._views = np.load(split_dir / VIEWS_FILE, mmap_mode="r")
        return self._voxels, self._views

    @property
    def num_stored_views(self) -> int:
        """Views stored per item (V_all)."""
        return self.manifest.num_views

    def voxels(self, index: int) -> np.ndarray:
        """Occupancy grid of item ``index``: bool (D, D, D), canonical (x, y, z), y up."""
        return unpack_voxels(self._arrays()[0][index], self.resolution)

    def views(self, index: int) -> np.ndarray:
        """All stored views of item ``index``: uint8 (V_all, H, W, C) as stored."""
        return np.asarray(self._arrays()[1][index])

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        stored = self.num_stored_views
        picked = self.view_selection.pick(stored, None)
        grid = self.voxels(index)
        if self.rotate:
            turns = int(torch.randint(4, ()))
            # Measured against the renderer: rot90 in the (z, x) plane by k quarter turns
            # shows, in view i, what the original shows in view i - k·V/4.
            grid = np.rot90(grid, turns, axes=(2, 0))
            picked = (picked - turns * (stored // 4)) % stored
        images = self.views(index)[picked]
        images = _fill_background(images, self.train_background)
        return Sample(
            voxels=torch.from_numpy(grid[None].astype(np.float32)),
            views=torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0),
            label=torch.tensor(int(self.labels[index]), dtype=torch.int64),
            index=index,
        )


def _fill_background(images: np.ndarray, random_background: bool) -> np.ndarray:
    """Composite RGBA (V, H, W, 4) over a background; other channel counts pass through."""
    if images.shape[-1] != 4:
        return images
    if random_background:
        low, high = TRAIN_BACKGROUND_RANGE
        color = torch.randint(low, high + 1, (3,)).numpy().astype(np.float32)
    else:
        color = np.full(3, EVAL_BACKGROUND, dtype=np.float32)
    alpha = images[..., 3:4].astype(np.float32) / 255.0
    rgb = images[..., :3].astype(np.float32) * alpha + color * (1.0 - alpha)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def check_rotatable(manifest: Manifest, where: Path | str) -> None:
    """Raise DataError unless the views form a ring whose size is a multiple of 4 (so a
    quarter turn of the shape is a shift of the ring)."""
    views = manifest.num_views
    ring = manifest.get("camera", {}).get("views") == "ring"
    if not ring or views % 4:
        raise DataError(
            f"{where}: rotation augmentation needs ring cameras with a multiple of 4 views "
            f"(this dataset: {manifest.get('camera', {}).get('views', '?')} cameras, {views} "
            "views); set data.augment=none"
        )


def load_prepared(
    path: str | Path,
    split: str = "train",
    num_views: int | None = None,
    view_mode: str = "first",
    train_background: bool | None = None,
    rotate: bool = False,
) -> PreparedDataset:
    """Open one split of a prepared dataset.

    Args:
        path: the dataset directory written by ``switchvae prepare``.
        split: "train", "val" or "test".
        num_views: views per sample (None = all stored views).
        view_mode: "first" (fixed, for evaluation) or "random" (random subset, training).
        train_background: RGBA only; defaults to True for the train split.
        rotate: random quarter turns about the up axis (training augmentation).
    """
    if view_mode not in ("first", "random"):
        raise DataError(f"view_mode must be 'first' or 'random', got {view_mode!r}")
    return PreparedDataset(
        path,
        split,
        ViewSelection(num_views=num_views, mode=view_mode),
        train_background=(split == "train") if train_background is None else train_background,
        rotate=rotate,
    )


def split_summary(manifest: Mapping[str, Any], splits: Sequence[str] = SPLITS) -> dict[str, int]:
    """Number of items per split, from a manifest (a :class:`Manifest` or the dict being written)."""
    sizes = manifest.get("splits", {})
    return {s: int(sizes[s]["size"]) for s in splits if s in sizes}
