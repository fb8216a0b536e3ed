"""The report's tables: run summary, and metrics from ``RUN/metrics.json``.

Each function reads what it needs from the run config and the metrics (plain dicts) or the
dataset's :class:`~switchvae.data.store.manifest.Manifest`, leaves out what is absent (a
one-branch mode has no retrieval; an evaluation may have skipped classification) and
returns :class:`~switchvae.analysis.html.Table` rows of formatted text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from switchvae.analysis.html import Table
from switchvae.data.store.manifest import Manifest

BRANCHES = {"voxel": "from voxels", "image": "from views"}
CLASSIFIER_NAMES = {"linear_svm": "linear SVM", "rbf_svm": "RBF SVM"}
CONFIG_HIGHLIGHTS = (
    ("model", "mode"),
    ("model", "latent_dim"),
    ("model", "aggregation"),
    ("model", "image_feature_dim"),
    ("model", "image_channels"),
    ("model", "p_voxel"),
    ("model", "per_sample"),
    ("loss", "align"),
    ("loss", "align_weight"),
    ("loss", "kl_max_weight"),
    ("loss", "kl_cycle_epochs"),
    ("data", "num_views"),
    ("data", "batch_size"),
    ("optim", "name"),
    ("optim", "lr"),
    ("optim", "schedule"),
    ("train", "epochs"),
    ("train", "precision"),
    ("train", "seed"),
)


def _fraction(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "–"


def _percent(value: Any, std: Any = None) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    if isinstance(std, (int, float)):
        return f"{100 * value:.1f} ± {100 * std:.1f} %"
    return f"{100 * value:.1f} %"


def config_table(config: Mapping | None, model_config: Mapping) -> Table:
    """Highlights of the run configuration (the model's own settings without a run config)."""
    sections = dict(config or {})
    sections.setdefault("model", model_config)
    rows = [
        [f"{section}.{key}", str(sections[section][key])]
        for section, key in CONFIG_HIGHLIGHTS
        if key in sections.get(section, {})
    ]
    note = "" if config else "the checkpoint holds no run config: model settings only"
    return Table("configuration", ["setting", "value"], rows, note)


def data_table(manifest: Manifest | None, data_dir: str) -> Table:
    """What the prepared dataset is: source, classes, splits, grid and views."""
    if manifest is None:
        return Table("data", ["field", "value"], [], "no prepared dataset found")
    source = manifest.source or {}
    source_text = (
        ", ".join(f"{k}={v}" for k, v in source.items())
        if isinstance(source, Mapping)
        else str(source)
    )
    side, channels = manifest.image_size, manifest.channels
    rows = [
        ["directory", data_dir],
        ["source", source_text],
        ["classes", f"{len(manifest.classes)}: {', '.join(manifest.classes)}"],
        ["splits", ", ".join(f"{name} {manifest.split_size(name)}" for name in manifest.splits)],
        ["voxel grid", f"{manifest.resolution}³"],
        ["views", f"{manifest.num_views} × {side}² px, {channels} channel(s)"],
        ["prepared with", f"switchvae {manifest.get('package_version', '?')}"],
    ]
    return Table("data", ["field", "value"], rows)


def reconstruction_tables(metrics: Mapping) -> list[Table]:
    """Mean/pooled IoU per branch, per-class IoU, and IoU against the number of views."""
    section = metrics.get("reconstruction", {})
    branches = [b for b in BRANCHES if isinstance(section.get(b), Mapping)]
    if not branches:
        return []
    threshold = section.get("threshold", 0.5)
    overall = Table(
        "reconstruction IoU",
        ["input", "mean IoU", "pooled IoU"],
        [
            [
                BRANCHES[b],
                _fraction(section[b].get("mean_iou")),
                _fraction(section[b].get("pooled_iou")),
            ]
            for b in branches
        ],
        f"threshold {threshold}; mean over shapes of per-shape IoU; pooled = ΣI / ΣU",
    )
    classes = sorted({c for b in branches for c in section[b].get("per_class", {})})
    per_class = Table(
        "IoU per class",
        ["class", *(BRANCHES[b] for b in branches)],
        [
            [c, *(_fraction(section[b].get("per_class", {}).get(c)) for b in branches)]
            for c in classes
        ],
    )
    tables = [overall, per_class]
    views = section.get("image", {}).get("views", {}) if "image" in branches else {}
    if views:
        rows = [
            [
                f"{name} ({entry.get('num_views', name)})" if name == "all" else name,
                _fraction(entry.get("mean_iou")),
                _fraction(entry.get("pooled_iou")),
            ]
            for name, entry in views.items()
        ]
        tables.append(
            Table("IoU from images vs number of views", ["views", "mean IoU", "pooled IoU"], rows)
        )
    return tables


def classification_table(metrics: Mapping) -> list[Table]:
    """SVM test accuracy (mean ± std over seeds) per branch and classifier."""
    section = metrics.get("classification", {})
    if not isinstance(section, Mapping) or not section:
        return []
    if "skipped" in section:
        return [
            Table("latent classification (SVM)", ["input"], [], f"skipped: {section['skipped']}")
        ]
    branches = [b for b in BRANCHES if isinstance(section.get(b), Mapping)]
    rows = [
        [
            BRANCHES[b],
            *(
                _percent(section[b].get(k, {}).get("accuracy"), section[b].get(k, {}).get("std"))
                for k in CLASSIFIER_NAMES
            ),
        ]
        for b in branches
    ]
    protocol = section.get("protocol", {})
    note = (
        f"standardized z_mean; C from {protocol.get('C_grid')} by CV on train; "
        f"mean ± std over {protocol.get('seeds')} seed(s)"
        if protocol
        else ""
    )
    return [
        Table(
            "latent classification (SVM test accuracy)",
            ["input", *CLASSIFIER_NAMES.values()],
            rows,
            note,
        )
    ]


def retrieval_table(metrics: Mapping) -> list[Table]:
    """Image → voxel retrieval top-k."""
    section = metrics.get("retrieval", {}).get("image_to_voxel")
    if not isinstance(section, Mapping):
        return []
    keys = sorted((k for k in section if k.startswith("top")), key=lambda k: int(k[3:]))
    rows = [[f"top-{k[3:]}", _percent(section[k])] for k in keys]
    gallery, distance = section.get("gallery_size", "?"), section.get("distance", "?")
    note = f"gallery: {gallery} voxel latents of the split; distance: {distance}"
    return [
        Table(
            "retrieval: image latent → voxel latent of the same shape",
            ["k", "accuracy"],
            rows,
            note,
        )
    ]


def metrics_tables(metrics: Mapping) -> list[Table]:
    """Every metrics table the report shows, in order."""
    return [
        *reconstruction_tables(metrics),
        *classification_table(metrics),
        *retrieval_table(metrics),
    ]


def training_progress(checkpoint: Mapping, records: Sequence[Mapping]) -> str:
    """``"S optimizer steps, E epochs"`` from the checkpoint, else from the last log record."""
    if isinstance(checkpoint.get("step"), int):
        return f"{checkpoint['step']} optimizer steps, {checkpoint.get('epoch', '?')} epochs"
    steps = [r for r in records if "step" in r]
    if not steps:
        return "unknown (no training log, a bare model checkpoint)"
    return f"last logged step {steps[-1]['step']}"
