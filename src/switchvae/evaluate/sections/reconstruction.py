"""``reconstruction``: IoU of the decoded grids, from voxel input and from image input.

Keys: ``reconstruction.threshold`` (0.5); ``reconstruction.{voxel,image}.{mean_iou,
pooled_iou,per_class}`` (image: from the first ``num_views`` views, the run's
``data.num_views`` else all stored, plus ``num_views``);
``reconstruction.image.views.{1,4,all}.{mean_iou,pooled_iou,num_views}`` (a count above the
stored views is left out). See :mod:`switchvae.evaluate.iou`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchvae.analysis.html import Table
from switchvae.evaluate.embed import ALL_VIEWS, RECON_VIEW_COUNTS
from switchvae.evaluate.iou import RECON_THRESHOLD, summarize_iou
from switchvae.evaluate.sections import BRANCHES, MetricSection, Scored, fraction


def compute(scored: Scored) -> dict:
    """The IoU summaries of each branch the model has."""
    test, classes = scored.test, scored.classes
    section: dict[str, Any] = {"threshold": RECON_THRESHOLD}
    if test.voxel_overlap is not None:
        section["voxel"] = summarize_iou(test.voxel_overlap, test.labels, classes)
    if test.num_views is not None:
        image = summarize_iou(test.image_overlap[test.num_views], test.labels, classes)
        views = {}
        for name in RECON_VIEW_COUNTS:
            count = test.stored_views if name == ALL_VIEWS else int(name)
            if count in test.image_overlap:
                summary = summarize_iou(test.image_overlap[count], test.labels, classes)
                summary.pop("per_class")
                views[str(name)] = {**summary, "num_views": count}
        section["image"] = {**image, "num_views": test.num_views, "views": views}
    return section


def tables(section: Mapping) -> list[Table]:
    """Mean/pooled IoU per branch, per-class IoU, and IoU against the number of views."""
    branches = [b for b in BRANCHES if isinstance(section.get(b), Mapping)]
    if not branches:
        return []
    overall = Table(
        "reconstruction IoU",
        ["input", "mean IoU", "pooled IoU"],
        [
            [
                BRANCHES[b],
                fraction(section[b].get("mean_iou")),
                fraction(section[b].get("pooled_iou")),
            ]
            for b in branches
        ],
        f"threshold {section.get('threshold', 0.5)}; mean over shapes of per-shape IoU; "
        "pooled = ΣI / ΣU",
    )
    classes = sorted({c for b in branches for c in section[b].get("per_class", {})})
    per_class = Table(
        "IoU per class",
        ["class", *(BRANCHES[b] for b in branches)],
        [
            [c, *(fraction(section[b].get("per_class", {}).get(c)) for b in branches)]
            for c in classes
        ],
    )
    tables = [overall, per_class]
    views = section.get("image", {}).get("views", {}) if "image" in branches else {}
    if views:
        rows = [
            [
                f"{name} ({entry.get('num_views', name)})" if name == "all" else name,
                fraction(entry.get("mean_iou")),
                fraction(entry.get("pooled_iou")),
            ]
            for name, entry in views.items()
        ]
        title = "IoU from images vs number of views"
        tables.append(Table(title, ["views", "mean IoU", "pooled IoU"], rows))
    return tables


METRIC = MetricSection(
    key="reconstruction",
    compute=compute,
    tables=tables,
    headline=(
        *(f"reconstruction.{branch}.mean_iou" for branch in ("voxel", "image")),
        *(f"reconstruction.image.views.{n}.mean_iou" for n in RECON_VIEW_COUNTS),
    ),
    demo=(
        ("IoU from voxels", "reconstruction.voxel.mean_iou"),
        ("IoU from images", "reconstruction.image.mean_iou"),
    ),
    order=10,
)
