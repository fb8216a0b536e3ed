"""One pass over a split: posterior means of both branches and reconstruction overlaps.

Each split is read once. For the image branch every view is run through the per-view CNN a
single time; the latents for 1, 4, ..., all views are then the aggregation of the first
``n`` view features (in eval mode BatchNorm uses running statistics, so a view's features do
not depend on the other views of the batch; this equals ``encode_views(views[:, :n])``).
Reconstruction decodes each branch's **mean** latent (no sampling): ``voxel`` from the voxel
encoder alone, ``image`` from the image encoder alone, whatever the training mode mixed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from switchvae.errors import DataError
from switchvae.evaluate.iou import RECON_THRESHOLD, Overlap, overlap_counts
from switchvae.model.switchvae import (
    SwitchVAE,
    use_fast_layout,  # noqa: F401 (re-exported)
)
from switchvae.train.precision import FP32, PrecisionChoice, autocast

log = logging.getLogger(__name__)

ALL_VIEWS = "all"
# Image-input reconstruction is also reported from these view counts ("all" = every view
# the dataset returns); counts above what the dataset stores are skipped.
RECON_VIEW_COUNTS: tuple[int | str, ...] = (1, 4, ALL_VIEWS)
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class Embeddings:
    """Latents and reconstruction overlaps of one split (N shapes, K latent).

    Attributes:
        labels: int64 (N,).
        z_voxel: float32 (N, K) voxel-branch means, None when the mode has no voxel branch.
        z_image: float32 (N, K) image-branch means from the first ``num_views`` views, None
            when the mode has no image branch.
        num_views: views behind ``z_image`` (None without an image branch).
        stored_views: views the dataset returned per shape.
        voxel_overlap: reconstruction from ``z_voxel`` (None if not computed).
        image_overlap: view count -> reconstruction from the image means of that many views.
    """

    labels: np.ndarray
    z_voxel: np.ndarray | None
    z_image: np.ndarray | None
    num_views: int | None
    stored_views: int
    voxel_overlap: Overlap | None = None
    image_overlap: dict[int, Overlap] = field(default_factory=dict)


def has_voxel_branch(model: SwitchVAE) -> bool:
    """Whether the model's mode trains a voxel encoder."""
    return model.config.mode != "image_only"


def has_image_branch(model: SwitchVAE) -> bool:
    """Whether the model's mode trains an image encoder."""
    return model.config.mode != "voxel_only"


def resolve_view_counts(
    num_views: int | None, recon_counts: Iterable[int | str], available: int
) -> tuple[int, list[int]]:
    """(views behind z_image, sorted distinct view counts to reconstruct from).

    ``None``/"all" mean every available view; a reconstruction count above ``available`` is
    skipped with a log line. The reconstruction counts always include ``num_views``.

    Raises:
        DataError: ``num_views`` is not in 1..available.
    """
    main = available if num_views in (None, ALL_VIEWS) else int(num_views)
    if not 1 <= main <= available:
        raise DataError(f"asked for {main} views but the dataset returns {available}")
    counts = {main}
    for count in recon_counts:
        value = available if count in (None, ALL_VIEWS) else int(count)
        if 1 <= value <= available:
            counts.add(value)
        else:
            log.info("skipping reconstruction from %s views: the dataset has %d", count, available)
    return main, sorted(counts)


class _Collector:
    """Accumulates per-batch results and turns them into :class:`Embeddings`."""

    def __init__(self) -> None:
        self.labels: list[np.ndarray] = []
        self.z_voxel: list[np.ndarray] = []
        self.z_image: list[np.ndarray] = []
        self.voxel_overlap: list[Overlap] = []
        self.image_overlap: dict[int, list[Overlap]] = {}

    def finish(self, num_views: int | None, stored_views: int) -> Embeddings:
        def stack(parts: list[np.ndarray]) -> np.ndarray | None:
            return np.concatenate(parts).astype(np.float32) if parts else None

        return Embeddings(
            labels=np.concatenate(self.labels).astype(np.int64),
            z_voxel=stack(self.z_voxel),
            z_image=stack(self.z_image),
            num_views=num_views,
            stored_views=stored_views,
            voxel_overlap=Overlap.concatenate(self.voxel_overlap) if self.voxel_overlap else None,
            image_overlap={k: Overlap.concatenate(v) for k, v in self.image_overlap.items()},
        )


def _embed_batch(
    model: SwitchVAE,
    batch: dict,
    out: _Collector,
    counts: tuple[int, list[int]],
    reconstruct: bool,
) -> None:
    """Encode (and decode) one batch: voxels (B, 1, D, D, D), views (B, V, C, H, W)."""
    device = next(model.parameters()).device
    voxels = batch["voxels"].to(device, non_blocking=True)
    main, recon_counts = counts
    if has_voxel_branch(model):
        z_voxel = model.encode_voxels(voxels)
        out.z_voxel.append(z_voxel.float().cpu().numpy())
        if reconstruct:
            out.voxel_overlap.append(overlap_counts(model.decode(z_voxel), voxels, RECON_THRESHOLD))
    if has_image_branch(model):
        wanted = recon_counts if reconstruct else [main]
        views = batch["views"][:, : max(wanted)].to(device, non_blocking=True)
        features = model.image_encoder.view_features(views)
        for count in wanted:
            z_image = model.image_encoder.mean_from_features(features, count)
            if count == main:
                out.z_image.append(z_image.float().cpu().numpy())
            if reconstruct:
                overlap = overlap_counts(model.decode(z_image), voxels, RECON_THRESHOLD)
                out.image_overlap.setdefault(count, []).append(overlap)
    out.labels.append(batch["label"].numpy())


def _check_inputs(model: SwitchVAE, batch: dict) -> int:
    """Check a batch against the model; return the views per shape it holds."""
    side, channels = model.config.voxel_resolution, model.config.image_channels
    if tuple(batch["voxels"].shape[1:]) != (1, side, side, side):
        raise DataError(f"the dataset's grids are not {side}³ as the model's (resolution {side})")
    views = batch["views"]
    if has_image_branch(model) and views.shape[2] != channels:
        raise DataError(f"the dataset's views have {views.shape[2]} channels, the model {channels}")
    return int(views.shape[1])


def embed_split(
    model: SwitchVAE,
    dataset: Dataset,
    batch_size: int = 32,
    num_views: int | None = None,
    *,
    reconstruct: bool = True,
    recon_view_counts: Sequence[int | str] = RECON_VIEW_COUNTS,
    num_workers: int = DEFAULT_WORKERS,
    precision: PrecisionChoice | None = None,
    progress: bool = True,
    desc: str = "embed",
) -> Embeddings:
    """Latents of every shape of a split, plus reconstruction overlaps in the same pass.

    Args:
        model: a SwitchVAE; put in eval mode, run on its own device.
        dataset: yields samples ``{"voxels" (1, D, D, D), "views" (V, C, H, W), "label"}``
            with views in a fixed order (``view_mode="first"``).
        batch_size: shapes per forward pass.
        num_views: views behind ``z_image`` (the first ones); None = all the dataset returns.
        reconstruct: also decode and count overlaps (False for the SVM's train split).
        recon_view_counts: view counts (int or "all") for image-input reconstruction.
        num_workers: DataLoader worker processes.
        precision: autocast for the forward passes (see
            :func:`switchvae.train.precision.inference_precision`); None = fp32.
        progress: show a tqdm bar.
        desc: the bar's label.

    Returns:
        :class:`Embeddings` in dataset order.
    """
    if len(dataset) == 0:
        raise DataError("cannot evaluate an empty split")
    model.eval()
    device = next(model.parameters()).device
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    out, counts, available = _Collector(), None, 0
    bar = tqdm(total=len(dataset), desc=desc, unit="shape", disable=not progress)
    choice = precision or PrecisionChoice(FP32, "default")
    with bar, torch.inference_mode(), autocast(choice, device):
        for batch in loader:
            if counts is None:
                available = _check_inputs(model, batch)
                counts = (available, [])
                if has_image_branch(model):
                    counts = resolve_view_counts(num_views, recon_view_counts, available)
            _embed_batch(model, batch, out, counts, reconstruct)
            bar.update(len(batch["label"]))
    image_views = counts[0] if has_image_branch(model) else None
    return out.finish(image_views, available)
