"""The report's tables: run summary, and metrics from ``RUN/metrics.json`` (each metric
section renders its own, see :mod:`switchvae.evaluate.sections`).

Each function reads what it needs from the run config and the metrics (plain dicts) or the
dataset's :class:`~switchvae.data.store.manifest.Manifest`, leaves out what is absent (a
one-branch mode has no retrieval; an evaluation may have skipped classification) and
returns :class:`~switchvae.analysis.html.Table` rows of formatted text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from switchvae.analysis.html import Table
from switchvae.data.store.manifest import Manifest

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


def metrics_tables(metrics: Mapping) -> list[Table]:
    """Every metrics table the report shows: each registered section's, in order."""
    from switchvae.evaluate.sections import metric_sections

    tables = []
    for metric in metric_sections():
        section = metrics.get(metric.key)
        if isinstance(section, Mapping):
            tables.extend(metric.tables(section))
    return tables


def training_progress(checkpoint: Mapping, records: Sequence[Mapping]) -> str:
    """``"S optimizer steps, E epochs"`` from the checkpoint, else from the last log record."""
    if isinstance(checkpoint.get("step"), int):
        return f"{checkpoint['step']} optimizer steps, {checkpoint.get('epoch', '?')} epochs"
    steps = [r for r in records if "step" in r]
    if not steps:
        return "unknown (no training log, a bare model checkpoint)"
    return f"last logged step {steps[-1]['step']}"
