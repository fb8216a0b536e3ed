"""Reconstruction IoU: per shape at a threshold fixed in advance, summarized per class.

The protocol's number is the **mean of per-shape IoUs** (every shape counts the same, big or
small). The authors' public code reported a **pooled** IoU instead, the sum of intersections
over the sum of unions across the whole split, which weights large shapes more; it is kept
beside the mean for comparison. A shape whose predicted and target grids are both empty has
IoU 1 (nothing to find, nothing found).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from switchvae.errors import DataError

# Occupied where sigmoid(logit) >= RECON_THRESHOLD. Fixed before any evaluation, never tuned.
RECON_THRESHOLD = 0.5
EMPTY_IOU = 1.0  # IoU of a shape whose predicted and target grids are both empty


@dataclass(frozen=True)
class Overlap:
    """Per-shape voxel counts, enough for both the mean and the pooled IoU.

    Attributes:
        intersection: int64 (N,) voxels occupied in both prediction and target.
        union: int64 (N,) voxels occupied in either.
    """

    intersection: np.ndarray
    union: np.ndarray

    @property
    def iou(self) -> np.ndarray:
        """float64 (N,) per-shape IoU (1 where the union is empty)."""
        return iou_from_counts(self.intersection, self.union)

    @staticmethod
    def concatenate(parts: Sequence[Overlap]) -> Overlap:
        """Join the counts of consecutive batches into one (N,) pair."""
        if not parts:
            return Overlap(np.zeros(0, np.int64), np.zeros(0, np.int64))
        return Overlap(
            np.concatenate([p.intersection for p in parts]),
            np.concatenate([p.union for p in parts]),
        )


def occupancy(prediction: Tensor, threshold: float = RECON_THRESHOLD) -> Tensor:
    """Occupancy of a prediction: bool passes through, logits become sigmoid(x) >= threshold.

    Args:
        prediction: bool occupancy or float logits, (B, D, D, D) or (B, 1, D, D, D).
        threshold: probability threshold for logits.

    Returns:
        bool (B, D, D, D).
    """
    if prediction.dim() == 5:
        prediction = prediction.squeeze(1)
    if prediction.dtype == torch.bool:
        return prediction
    return torch.sigmoid(prediction.float()) >= threshold


def _as_grid(target: Tensor) -> Tensor:
    """Target occupancy (B, D, D, D) or (B, 1, D, D, D), bool or {0,1} -> bool (B, D, D, D)."""
    if target.dim() == 5:
        target = target.squeeze(1)
    return target if target.dtype == torch.bool else target > 0.5


def overlap_counts(
    prediction: Tensor, target: Tensor, threshold: float = RECON_THRESHOLD
) -> Overlap:
    """Intersection and union voxel counts of each shape.

    Args:
        prediction: bool occupancy or float logits, (B, D, D, D) or (B, 1, D, D, D).
        target: bool or {0,1} occupancy, same grid shape.
        threshold: probability threshold applied to logits.

    Returns:
        :class:`Overlap` with (B,) counts.

    Raises:
        DataError: the grids differ in shape.
    """
    predicted, wanted = occupancy(prediction, threshold), _as_grid(target)
    if predicted.shape != wanted.shape or predicted.dim() != 4:
        raise DataError(
            f"prediction and target must both be (B, D, D, D) grids, "
            f"got {tuple(predicted.shape)} and {tuple(wanted.shape)}"
        )
    intersection = (predicted & wanted).flatten(1).sum(dim=1)
    union = (predicted | wanted).flatten(1).sum(dim=1)
    return Overlap(
        intersection.cpu().numpy().astype(np.int64), union.cpu().numpy().astype(np.int64)
    )


def iou_from_counts(intersection: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Per-shape IoU from counts (N,) -> float64 (N,), :data:`EMPTY_IOU` where union is 0."""
    intersection = np.asarray(intersection, dtype=np.float64)
    union = np.asarray(union, dtype=np.float64)
    safe = np.where(union > 0, union, 1.0)
    return np.where(union > 0, intersection / safe, EMPTY_IOU)


def per_shape_iou(prediction: Tensor, target: Tensor, threshold: float = RECON_THRESHOLD) -> Tensor:
    """IoU of each shape.

    Args:
        prediction: bool occupancy or float logits (thresholded on sigmoid probability),
            (B, D, D, D) or (B, 1, D, D, D).
        target: bool or {0,1} occupancy, same grid shape.
        threshold: probability threshold applied to logits.

    Returns:
        float64 (B,) on the CPU; 1 where both grids are empty.
    """
    counts = overlap_counts(prediction, target, threshold)
    return torch.from_numpy(counts.iou)


def pooled_iou(intersection: np.ndarray, union: np.ndarray) -> float:
    """Sum of intersections over sum of unions (the public code's number); 1 if all empty."""
    total_union = int(np.sum(union))
    return EMPTY_IOU if total_union == 0 else float(np.sum(intersection)) / total_union


def summarize_iou(overlap: Overlap, labels: np.ndarray, classes: Sequence[str]) -> dict:
    """The reconstruction summary of one split.

    Args:
        overlap: per-shape counts (N,).
        labels: int (N,) class index of each shape.
        classes: class names in label order.

    Returns:
        ``{"mean_iou", "pooled_iou", "per_class": {name: mean IoU}}``; ``per_class`` lists
        only the classes present in the split.
    """
    labels = np.asarray(labels)
    if labels.shape != overlap.intersection.shape:
        raise DataError(f"{labels.shape[0]} labels for {overlap.intersection.shape[0]} shapes")
    ious = overlap.iou
    per_class = {
        name: float(ious[labels == index].mean())
        for index, name in enumerate(classes)
        if np.any(labels == index)
    }
    return {
        "mean_iou": float(ious.mean()) if ious.size else float("nan"),
        "pooled_iou": pooled_iou(overlap.intersection, overlap.union),
        "per_class": per_class,
    }
