"""PNG figures of a run: training curves, reconstructions, latent walks, the latent map.

Drawn with Matplotlib's object API on the Agg canvas (no pyplot, no global state, no
display). Voxel grids are pictured with :func:`switchvae.data.geometry.render.render_views` from
the first ring camera (the front, 30° up: where the datasets' view 0 looks from), coloured
by surface direction; a grid counts as occupied where its probability reaches 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from switchvae.analysis.interpolate import DecodedSeries
from switchvae.analysis.latents import Reconstruction
from switchvae.data.geometry.render import render_views
from switchvae.evaluate.iou import RECON_THRESHOLD

PICTURE_SIZE = 128  # pixels per rendered grid
PANEL_INCHES = 1.9  # side of one picture in a figure
DPI = 100
LOSS_TERMS = ("total", "reconstruction", "kl", "alignment")
VAL_IOU_KEYS = {"val/iou_voxel": "from voxels", "val/iou_image": "from views"}
TSNE_MIN_POINTS = 30  # fewer points: PCA (t-SNE needs a perplexity well below N)
TSNE_PERPLEXITY = 30.0
TSNE_EXACT_MAX_POINTS = 600  # exact gradients up to here: measured 4-10× faster than
# Barnes-Hut at these sizes on 2 cores (48 points 0.2 s vs 1.9 s, 400 points 3.7 s vs 11.6 s)
BRANCH_MARKERS = {"voxels": "o", "views": "x"}


def grid_picture(grid: np.ndarray, image_size: int = PICTURE_SIZE) -> np.ndarray | None:
    """A picture of a (D, D, D) grid (bool or probabilities): uint8 (H, W, 3); None if empty."""
    occupied = np.asarray(grid) >= RECON_THRESHOLD
    if not occupied.any():
        return None
    return render_views(occupied, num_views=1, image_size=image_size, color=True, resolution=None)[
        0
    ]


def _show(axes: Axes, image: np.ndarray | None, caption: str = "") -> None:
    """Draw an image (H, W, C) uint8, or "empty" for None, without axis decorations."""
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_color("#cccccc")
    if image is None:
        axes.text(0.5, 0.5, "empty", ha="center", va="center", color="#888888")
    elif image.shape[-1] == 1:
        axes.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        axes.imshow(image)
    if caption:
        axes.set_title(caption, fontsize=8)


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, facecolor="white")
    return path


def _iou(prediction: np.ndarray, target: np.ndarray) -> float:
    """IoU of probabilities (D, D, D) at the threshold against a bool grid (1 if both empty)."""
    predicted = prediction >= RECON_THRESHOLD
    union = np.logical_or(predicted, target).sum()
    return 1.0 if union == 0 else float(np.logical_and(predicted, target).sum() / union)


def save_reconstructions(rows: Sequence[Reconstruction], path: str | Path) -> Path:
    """One row per item: input view | input voxels | recon from voxels | recon from views.

    Reconstruction pictures are captioned with their IoU against the input grid; a column
    whose branch the run lacks is left out.
    """
    columns = ["input view", "input voxels"]
    columns += [
        name
        for name, attr in (("from voxels", "from_voxels"), ("from views", "from_views"))
        if rows and getattr(rows[0], attr) is not None
    ]
    size = (PANEL_INCHES * len(columns), PANEL_INCHES * max(1, len(rows)) + 0.3)
    figure = Figure(figsize=size, layout="constrained")
    grid = figure.subplots(max(1, len(rows)), len(columns), squeeze=False)
    for r, row in enumerate(rows):
        decoded = [d for d in (row.from_voxels, row.from_views) if d is not None]
        _show(grid[r, 0], row.view, row.caption)
        _show(grid[r, 1], grid_picture(row.voxels), "input voxels")
        for c, probabilities in enumerate(decoded, start=2):
            caption = f"{columns[c]} · IoU {_iou(probabilities, row.voxels):.2f}"
            _show(grid[r, c], grid_picture(probabilities), caption)
    return _save(figure, path)


def save_series(series: DecodedSeries, path: str | Path, columns: int | None = None) -> Path:
    """Decoded shapes side by side (wrapped into rows of ``columns``), captioned, titled."""
    count = len(series.captions)
    columns = max(1, min(columns or count, count))
    rows = -(-count // columns)
    size = (PANEL_INCHES * columns, PANEL_INCHES * rows + 0.5)
    figure = Figure(figsize=size, layout="constrained")
    figure.suptitle(series.title, fontsize=10)
    axes = figure.subplots(rows, columns, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k < count:
            _show(ax, grid_picture(series.probabilities[k]), series.captions[k])
        else:
            ax.set_axis_off()
    return _save(figure, path)


def _curve(records: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the records holding a finite number under ``key``."""
    points = [
        (float(r["step"]), float(r[key]))
        for r in records
        if isinstance(r.get(key), (int, float)) and np.isfinite(r[key]) and "step" in r
    ]
    return np.array([p[0] for p in points]), np.array([p[1] for p in points])


def _plot_loss(axes: Axes, records: Sequence[Mapping], term: str) -> None:
    """One loss term: the training curve and validation points (log y for wide ranges)."""
    steps, values = _curve(records, f"loss/{term}")
    axes.plot(steps, values, color="#1f77b4", linewidth=1.2, label="train")
    val_steps, val_values = _curve(records, f"val/loss/{term}")
    if val_steps.size:
        axes.plot(val_steps, val_values, "o-", color="#d62728", markersize=3, label="validation")
    both = np.concatenate([values, val_values])
    if both.size and both.min() > 0 and both.max() / both.min() > 20:
        axes.set_yscale("log")
    axes.set_title(f"loss: {term}", fontsize=10)
    axes.legend(fontsize=8)


def save_training_curves(records: Sequence[Mapping], path: str | Path) -> Path:
    """Loss terms (train and validation) and validation IoU against the optimizer step.

    Args:
        records: ``log.jsonl`` objects; training ones hold ``loss/<term>``, validation ones
            ``val/loss/<term>`` and ``val/iou_voxel`` / ``val/iou_image``.
    """
    terms = [
        t for t in LOSS_TERMS if any(f"loss/{t}" in r or f"val/loss/{t}" in r for r in records)
    ]
    panels = len(terms) + 1
    columns = min(3, panels)
    rows = -(-panels // columns)
    figure = Figure(figsize=(4.2 * columns, 3.0 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, term in zip(axes, terms, strict=False):
        _plot_loss(ax, records, term)
    iou_axes = axes[len(terms)]
    for key, name in VAL_IOU_KEYS.items():
        steps, values = _curve(records, key)
        if steps.size:
            iou_axes.plot(steps, values, "o-", markersize=3, label=name)
    iou_axes.set_title("validation IoU (mean per shape)", fontsize=10)
    iou_axes.set_ylim(0.0, 1.0)
    if iou_axes.get_legend_handles_labels()[0]:
        iou_axes.legend(fontsize=8)
    for ax in axes[:panels]:
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[panels:]:
        ax.set_axis_off()
    return _save(figure, path)


def project_2d(points: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D map of (N, K) points: t-SNE for N >= 30, PCA below. Returns ((N, 2), method)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] >= TSNE_MIN_POINTS:
        from sklearn.manifold import TSNE

        perplexity = min(TSNE_PERPLEXITY, (points.shape[0] - 1) / 3.0)
        method = "exact" if points.shape[0] <= TSNE_EXACT_MAX_POINTS else "barnes_hut"
        tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, method=method)
        return tsne.fit_transform(points), "t-SNE"
    centered = points - points.mean(axis=0)
    if points.shape[0] < 2:
        return np.zeros((points.shape[0], 2)), "PCA"
    _, _, basis = np.linalg.svd(centered, full_matrices=False)
    coords = centered @ basis[:2].T
    return np.pad(coords, ((0, 0), (0, 2 - coords.shape[1]))), "PCA"


def class_colors(count: int) -> np.ndarray:
    """(count, 4) RGBA: ``tab10``/``tab20`` for up to 20 classes, evenly spaced hues beyond."""
    from matplotlib import colormaps

    if count <= 10:
        return colormaps["tab10"](np.arange(count))
    if count <= 20:
        return colormaps["tab20"](np.arange(count))
    return colormaps["hsv"](np.linspace(0.0, 1.0, count, endpoint=False))


def save_latent_map(
    latents: Mapping[str, np.ndarray],
    labels: np.ndarray,
    classes: Sequence[str],
    path: str | Path,
    seed: int = 0,
) -> Path:
    """One 2-D map of every branch's latents (shared t-SNE/PCA), coloured by class.

    Args:
        latents: ``{"voxels": (N, K), "views": (N, K)}`` (one or both) of the same N shapes;
            markers tell the branches apart, so aligned branches overlap.
        labels: int (N,) class index per shape.
        classes: class names in label order.
        path: the PNG to write.
        seed: t-SNE seed.
    """
    names = list(latents)
    labels = np.asarray(labels)
    coords, method = project_2d(np.concatenate([latents[n] for n in names]), seed)
    colors = class_colors(len(classes))
    figure = Figure(figsize=(9.0, 6.5), layout="constrained")
    axes = figure.subplots()
    for k, name in enumerate(names):
        part = coords[k * len(labels) : (k + 1) * len(labels)]
        marker = BRANCH_MARKERS.get(name, "s")
        axes.scatter(part[:, 0], part[:, 1], c=colors[labels], marker=marker, s=22, linewidths=1)
    present = sorted(set(labels.tolist()))
    handles = [
        Line2D([], [], color=colors[c], marker="o", linestyle="", label=classes[c]) for c in present
    ]
    handles += [
        Line2D(
            [],
            [],
            color="black",
            marker=BRANCH_MARKERS.get(n, "s"),
            linestyle="",
            label=f"from {n}",
        )
        for n in names
    ]
    axes.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    axes.set_title(f"{method} of test latents ({len(labels)} shapes)", fontsize=10)
    axes.set_xticks([])
    axes.set_yticks([])
    return _save(figure, path)
