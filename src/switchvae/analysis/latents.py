"""A trained run's model and data, opened for analysis; items encoded, latents decoded.

Everything here works on a handful of items at a time (figures, exports); whole splits go
through :func:`switchvae.evaluate.embed.embed_split`. Latents are posterior **means**
(``encode_voxels`` / ``encode_views``), decoded to occupancy probabilities
``sigmoid(logits)``; a voxel counts as occupied at ``RECON_THRESHOLD`` (0.5), as in evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from switchvae.atomic import atomic_write
from switchvae.data.store.prepared import PreparedDataset, load_prepared, read_manifest
from switchvae.errors import ConfigError, DataError
from switchvae.evaluate.embed import embed_split, has_image_branch, has_voxel_branch
from switchvae.evaluate.metrics import run_view_count
from switchvae.model.switchvae import SwitchVAE
from switchvae.run import Run, check_compatible
from switchvae.train.precision import PrecisionChoice, autocast, inference_precision

SOURCES = ("voxels", "views")
"""What an item is encoded from: its voxel grid or its rendered views."""

DECODE_BATCH = 32


@dataclass(frozen=True)
class AnalysisRun:
    """A run's model (eval mode) with one split of its data, views as the run used them.

    Attributes:
        model: the model of ``RUN/checkpoints/last.pt``.
        config: the resolved run config as a plain dict, None for a bare model checkpoint.
        dataset: the split, the first ``num_views`` views of each item, evaluation background.
        data_dir: the prepared dataset directory.
        precision: the forward passes' precision (the run's ``train.precision`` resolved
            here, as ``evaluate`` resolves it).
    """

    model: SwitchVAE
    config: dict | None
    dataset: PreparedDataset
    data_dir: Path
    precision: PrecisionChoice

    def autocast(self):
        """Autocast context for this run's precision on its model's device."""
        return autocast(self.precision, model_device(self.model))


def find_data_dir(run_dir: str | Path | Run, data_dir: str | Path | None = None) -> Path | None:
    """The caller's ``data_dir``, else the one recorded in ``RUN/run.json``, else the one in
    ``RUN/metrics.json`` (``data.dir``); None when nothing names one."""
    return Run.open(run_dir).find_data_dir(data_dir)


def open_run(
    run_dir: str | Path | Run,
    data_dir: str | Path | None = None,
    split: str = "test",
    device: str | torch.device = "cpu",
) -> AnalysisRun:
    """Load a run's model and open ``split`` of its data (checked against the model).

    ``run_dir`` may be an opened :class:`~switchvae.run.Run` (its model is then reused).

    Raises:
        ConfigError: no checkpoint, or no data directory given or recorded.
        DataError: the data is not a prepared dataset, lacks the split, or does not fit.
    """
    run = Run.open(run_dir, device)
    found = run.find_data_dir(data_dir)
    if found is None:
        raise ConfigError(f"{run.path}: no data directory recorded; pass --data DIR")
    manifest = read_manifest(found)
    model, config = run.model, run.config
    check_compatible(model.config, manifest, found)
    views = run_view_count(config, manifest.num_views)
    dataset = load_prepared(found, split, views, "first", train_background=False)
    if len(dataset) == 0:
        raise DataError(f"{found}: the {split} split is empty")
    precision = inference_precision(config, model_device(model))
    return AnalysisRun(model, config, dataset, found, precision)


def resolve_item(dataset: PreparedDataset, item: str | int) -> int:
    """Index of an item given by its id (exact) or by its index (negative counts from the end).

    Raises:
        DataError: no item has that id and it is not an index in range.
    """
    if isinstance(item, str) and item in dataset.ids:
        return dataset.ids.index(item)
    try:
        index = int(item)
    except ValueError:
        raise DataError(
            f"no item {item!r} in the {dataset.split} split (ids look like {dataset.ids[0]!r})"
        ) from None
    if not -len(dataset) <= index < len(dataset):
        raise DataError(f"item index {index} out of range: the split has {len(dataset)} items")
    return index % len(dataset)


def model_device(model: SwitchVAE) -> torch.device:
    """The device the model's parameters live on."""
    return next(model.parameters()).device


def check_source(model: SwitchVAE, source: str) -> None:
    """Raise ConfigError unless ``source`` is one of :data:`SOURCES` the model can encode."""
    if source not in SOURCES:
        raise ConfigError(f"encode from one of {', '.join(SOURCES)}, got {source!r}")
    has_branch = has_voxel_branch if source == "voxels" else has_image_branch
    if not has_branch(model):
        raise ConfigError(f"the run's mode {model.config.mode!r} has no encoder for {source}")


@torch.no_grad()
def encode_items(
    model: SwitchVAE, dataset: PreparedDataset, indices: Sequence[int], source: str
) -> Tensor:
    """Posterior means of some items: -> float32 (N, K) on the CPU.

    Args:
        model: the model (put in eval mode).
        dataset: yields ``voxels`` (1, D, D, D) and ``views`` (V, C, H, W).
        indices: N item indices.
        source: ``"voxels"`` or ``"views"``.
    """
    check_source(model, source)
    model.eval()
    device = model_device(model)
    means = []
    for start in range(0, len(indices), DECODE_BATCH):
        chunk = [dataset[int(i)] for i in indices[start : start + DECODE_BATCH]]
        inputs = torch.stack([sample[source] for sample in chunk]).to(device)
        encode = model.encode_voxels if source == "voxels" else model.encode_views
        means.append(encode(inputs).float().cpu())
    return torch.cat(means) if means else torch.zeros(0, model.config.latent_dim)


@torch.no_grad()
def decode_probabilities(model: SwitchVAE, z: Tensor) -> np.ndarray:
    """Occupancy probabilities of latents: z (N, K) -> float32 (N, D, D, D) in [0, 1]."""
    model.eval()
    device = model_device(model)
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.dim() != 2 or z.shape[1] != model.config.latent_dim:
        raise DataError(f"latents must be (N, {model.config.latent_dim}), got {tuple(z.shape)}")
    parts = [
        torch.sigmoid(model.decode(z[start : start + DECODE_BATCH].to(device)).float())
        for start in range(0, z.shape[0], DECODE_BATCH)
    ]
    side = model.config.voxel_resolution
    if not parts:
        return np.zeros((0, side, side, side), np.float32)
    return torch.cat(parts)[:, 0].cpu().numpy()


@dataclass(frozen=True)
class Reconstruction:
    """One item with its inputs and what the model makes of them.

    Attributes:
        caption: ``"<id> (<class>)"``.
        view: uint8 (H, W, C), the item's first input view.
        voxels: bool (D, D, D), the input grid.
        from_voxels, from_views: float32 (D, D, D) decoded probabilities, None when the
            run's mode has no encoder for that input.
    """

    caption: str
    view: np.ndarray
    voxels: np.ndarray
    from_voxels: np.ndarray | None
    from_views: np.ndarray | None


def reconstruct_items(
    model: SwitchVAE, dataset: PreparedDataset, indices: Sequence[int]
) -> list[Reconstruction]:
    """Inputs and reconstructions (from each branch the model has) of some items."""
    decoded = {}
    for source, has_branch in (("voxels", has_voxel_branch), ("views", has_image_branch)):
        if has_branch(model):
            decoded[source] = decode_probabilities(
                model, encode_items(model, dataset, indices, source)
            )
    rows = []
    for row, index in enumerate(indices):
        sample = dataset[int(index)]
        view = (sample["views"][0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
        label = dataset.classes[int(dataset.labels[index])]
        rows.append(
            Reconstruction(
                caption=f"{dataset.ids[index]} ({label})",
                view=view,
                voxels=sample["voxels"][0].numpy() > 0.5,
                from_voxels=decoded["voxels"][row] if "voxels" in decoded else None,
                from_views=decoded["views"][row] if "views" in decoded else None,
            )
        )
    return rows


def spread_indices(labels: np.ndarray, count: int) -> list[int]:
    """Up to ``count`` item indices, one per class in turn (first items first), sorted by class.

    Deterministic: the same split always gives the same picks.
    """
    labels = np.asarray(labels)
    per_class = [np.flatnonzero(labels == c).tolist() for c in np.unique(labels)]
    picked: list[int] = []
    depth = 0
    while len(picked) < min(count, len(labels)):
        for members in per_class:
            if depth < len(members) and len(picked) < count:
                picked.append(members[depth])
        depth += 1
    return sorted(picked, key=lambda i: (int(labels[i]), i))


def save_latents(
    run: AnalysisRun, path: str | Path, batch_size: int = 32, progress: bool = False
) -> Path:
    """Write the posterior means of every item of ``run.dataset`` to an ``.npz`` file.

    Keys: ``z_voxel`` / ``z_image`` float32 (N, K) (each only when the mode has that
    encoder; ``z_image`` from the run's number of views), ``labels`` int64 (N,), ``ids``
    (N,) str, ``classes`` str in label order. Written to a temporary file, then renamed.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ConfigError(f"{path}: latents are written as .npz; name the file FILE.npz")
    embedded = embed_split(
        run.model,
        run.dataset,
        batch_size,
        reconstruct=False,
        num_workers=0,
        precision=run.precision,
        progress=progress,
    )
    arrays = {"labels": embedded.labels, "ids": np.array(run.dataset.ids, dtype=str)}
    arrays["classes"] = np.array(run.dataset.classes, dtype=str)
    for name, z in (("z_voxel", embedded.z_voxel), ("z_image", embedded.z_image)):
        if z is not None:
            arrays[name] = z
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as temp, temp.open("wb") as handle:
        np.savez(handle, **arrays)
    return path
