"""``RUN/report.html``: one self-contained page about a run, and its figures in ``RUN/figures``.

Sections: run summary (configuration, data, versions), training curves (``log.jsonl``),
metrics tables (``metrics.json``, written by ``switchvae evaluate``), reconstructions,
interpolations (encoded from voxels and from views), latent arithmetic, prior samples, and a
map of the test latents. A part whose input is missing (no log, no metrics, no data
directory) is replaced by a note saying how to get it; the rest of the report is still made.
Items shown are picked deterministically (one per class in turn), so reports of two runs on
the same data show the same shapes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from switchvae import __version__
from switchvae.analysis.figures import (
    save_latent_map,
    save_reconstructions,
    save_series,
    save_training_curves,
)
from switchvae.analysis.html import FigureBlock, Section, render_page
from switchvae.analysis.interpolate import interpolate_items, latent_arithmetic, sample_prior
from switchvae.analysis.latents import (
    AnalysisRun,
    open_run,
    reconstruct_items,
    spread_indices,
)
from switchvae.analysis.tables import config_table, data_table, metrics_tables, training_progress
from switchvae.atomic import atomic_write
from switchvae.evaluate.embed import embed_split, has_image_branch, has_voxel_branch
from switchvae.run import LOG_FILE, METRICS_FILE, Run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOptions:
    """What the report's figures show.

    Attributes:
        split: the split the figures' items come from.
        reconstructions: items in the reconstruction figure.
        steps: points per interpolation (ends included).
        prior_samples: shapes decoded from N(0, I).
        max_map_shapes: at most this many shapes (spread over classes) in the latent map.
        seed: seed of the prior samples and the t-SNE.
        device: where the model runs.
    """

    split: str = "test"
    reconstructions: int = 6
    steps: int = 8
    prior_samples: int = 8
    max_map_shapes: int = 300
    seed: int = 0
    device: str | torch.device = "cpu"


def _pick_pair(labels: np.ndarray) -> tuple[int, int]:
    """Two items of different classes if there are two classes (else the first two items)."""
    picks = spread_indices(labels, 2)
    return (picks[0], picks[-1]) if len(picks) > 1 else (0, min(1, len(labels) - 1))


def _pick_triple(labels: np.ndarray) -> tuple[int, int, int]:
    """a, b of one class and c of another (a − b + c moves c the way a differs from b)."""
    labels = np.asarray(labels)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        others = np.flatnonzero(labels != label)
        if len(members) >= 2 and len(others):
            return int(members[0]), int(members[1]), int(others[0])
    first = spread_indices(labels, 3)
    return tuple((first * 3)[:3])


def _walk_figures(run: AnalysisRun, folder: Path, options: ReportOptions) -> list[FigureBlock]:
    """Interpolations from each input the model encodes, arithmetic, prior samples."""
    labels, model, dataset = run.dataset.labels, run.model, run.dataset
    sources = [
        s for s, has in (("voxels", has_voxel_branch), ("views", has_image_branch)) if has(model)
    ]
    blocks = []
    a, b = _pick_pair(labels)
    for source in sources:
        series = interpolate_items(model, dataset, a, b, options.steps, source)
        path = save_series(series, folder / f"interpolation_{source}.png")
        caption = (
            f"decoded from evenly spaced points between the {source} latents "
            f"of two {options.split} shapes"
        )
        blocks.append(FigureBlock(f"interpolation, encoded from {source}", path, caption))
    series = latent_arithmetic(model, dataset, *_pick_triple(labels), source=sources[0])
    path = save_series(series, folder / "arithmetic.png")
    caption = "a and b share a class, c has another: a − b + c carries their difference to c"
    blocks.append(FigureBlock("latent arithmetic a − b + c", path, caption))
    series = sample_prior(model, options.prior_samples, options.seed)
    path = save_series(series, folder / "prior_samples.png", columns=min(8, options.prior_samples))
    blocks.append(
        FigureBlock("samples from the prior", path, f"decoded z ~ N(0, I), seed {options.seed}")
    )
    return blocks


def _latent_map(run: AnalysisRun, folder: Path, options: ReportOptions) -> FigureBlock:
    """t-SNE (PCA for few shapes) of the split's latents from every branch the model has."""
    indices = spread_indices(run.dataset.labels, options.max_map_shapes)
    subset = Subset(run.dataset, indices)
    embedded = embed_split(
        run.model,
        subset,
        batch_size=32,
        reconstruct=False,
        num_workers=0,
        precision=run.precision,
        progress=False,
    )
    latents = {
        name: z
        for name, z in (("voxels", embedded.z_voxel), ("views", embedded.z_image))
        if z is not None
    }
    path = save_latent_map(
        latents, embedded.labels, run.dataset.classes, folder / "latent_map.png", options.seed
    )
    caption = "posterior means; circles from voxels, crosses from views of the same shapes"
    return FigureBlock(f"latent map ({options.split} split)", path, caption)


def _data_sections(run: AnalysisRun, folder: Path, options: ReportOptions) -> list[Section]:
    """Reconstructions, latent walks and the latent map (need the model and the data)."""
    indices = spread_indices(run.dataset.labels, options.reconstructions)
    path = save_reconstructions(
        reconstruct_items(run.model, run.dataset, indices), folder / "reconstructions.png"
    )
    caption = f"{options.split} shapes; IoU at threshold 0.5 against the input grid"
    recon = FigureBlock("inputs and reconstructions", path, caption)
    return [
        Section("Reconstructions", figures=[recon]),
        Section(
            "Latent space",
            figures=[*_walk_figures(run, folder, options), _latent_map(run, folder, options)],
        ),
    ]


def _summary_section(
    run_dir: Run,
    run: AnalysisRun | None,
    config: dict | None,
    model_config: dict,
    records: list[dict],
    metrics: dict | None,
) -> Section:
    """Configuration and data tables; where the run is, how far it trained, versions."""
    manifest = run.dataset.manifest if run is not None else None
    data_dir = str(run.data_dir) if run is not None else "–"
    checkpoint = run_dir.checkpoint_info()
    versions = [f"report by switchvae {__version__}"]
    for what, source in (("checkpoint", checkpoint), ("metrics", metrics or {})):
        if "package_version" in source:
            versions.append(f"{what} by switchvae {source['package_version']}")
    notes = [
        f"run directory: {run_dir.path}",
        f"trained: {training_progress(checkpoint, records)}",
        "; ".join(versions),
    ]
    return Section(
        "Run summary",
        tables=[config_table(config, model_config), data_table(manifest, data_dir)],
        notes=notes,
    )


def _curves_section(records: list[dict], folder: Path) -> Section:
    """Training curves from the log records, or a note that there is no log."""
    if not any("step" in r for r in records):
        return Section("Training curves", notes=[f"no {LOG_FILE} in the run directory"])
    path = save_training_curves(records, folder / "training_curves.png")
    caption = "training loss terms per log step; validation losses and IoU after validation passes"
    return Section(
        "Training curves", figures=[FigureBlock("losses and validation IoU", path, caption)]
    )


def _metrics_section(metrics: dict | None) -> Section:
    """The metrics tables, or a note to run ``switchvae evaluate`` first."""
    if metrics is None:
        return Section(
            "Metrics", notes=[f"no {METRICS_FILE} yet: run `switchvae evaluate RUN` first"]
        )
    shapes, precision = metrics.get("num_test_shapes", "?"), metrics.get("precision", "?")
    notes = [f"{metrics.get('split', 'test')} split, {shapes} shapes; precision {precision}"]
    return Section("Metrics", tables=metrics_tables(metrics), notes=notes)


def _open_data(
    run_dir: Run, data_dir: str | Path | None, options: ReportOptions
) -> tuple[AnalysisRun | None, str]:
    """The run with its data, or (None, why not) when no data directory is known.

    A directory the caller names must work (errors propagate); a recorded one that is gone
    (the run was copied elsewhere) only leaves the data figures out.
    """
    found = run_dir.find_data_dir(data_dir)
    hint = "pass --data DIR for reconstructions and latent figures"
    if found is None:
        return None, f"no data directory given or recorded: {hint}"
    if data_dir is None and not found.is_dir():
        log.warning("the recorded data directory %s does not exist", found)
        return None, f"the recorded data directory {found} does not exist: {hint}"
    return open_run(run_dir, found, options.split, options.device), ""


def write_report(
    run_dir: str | Path | Run,
    data_dir: str | Path | None = None,
    options: ReportOptions | None = None,
) -> Path:
    """Write ``RUN/report.html`` (self-contained) and ``RUN/figures/*.png``.

    Args:
        run_dir: the training run directory (``checkpoints/last.pt`` at least), or its
            opened :class:`~switchvae.run.Run` (the model is loaded once, and reused).
        data_dir: the prepared dataset; None uses the one recorded in the run (``run.json``,
            else ``metrics.json``). Without one the data figures are left out, with a note.
        options: what the figures show (:class:`ReportOptions`).

    Returns:
        The report's path.

    Raises:
        ConfigError: no usable checkpoint. DataError: the given data does not fit the model.
    """
    options = options or ReportOptions()
    run_dir = Run.open(run_dir, options.device)
    folder = run_dir.figures_dir
    records, metrics = run_dir.log_records(), run_dir.metrics()
    run, missing = _open_data(run_dir, data_dir, options)
    if run is not None:
        model, config = run.model, run.config
        data_sections = _data_sections(run, folder, options)
    else:
        model, config = run_dir.model, run_dir.config
        data_sections = [Section("Reconstructions and latent space", notes=[missing])]
    sections = [
        _summary_section(run_dir, run, config, asdict(model.config), records, metrics),
        _curves_section(records, folder),
        _metrics_section(metrics),
        *data_sections,
    ]
    page = render_page(
        f"SwitchVAE run: {run_dir.path.resolve().name}",
        "training, evaluation and latent-space report",
        sections,
    )
    path = run_dir.report_file
    with atomic_write(path) as temp:
        temp.write_text(page, encoding="utf-8")
    return path
