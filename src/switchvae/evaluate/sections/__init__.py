"""The registry of metric sections: every top-level section of ``RUN/metrics.json``.

A module in this package declares a module-level

    METRIC = MetricSection(key=..., compute=..., tables=..., headline=..., demo=...)

and is then found by :func:`metric_sections` (no list to edit elsewhere): adding a metric is
one new file. :func:`~switchvae.evaluate.metrics.evaluate_run` writes each section under its
key, the report shows its tables, ``switchvae evaluate`` summarizes its headline keys over
runs and ``switchvae demo`` prints its demo rows (trained vs untrained).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchvae.analysis.html import Table
    from switchvae.evaluate.embed import Embeddings

BRANCHES = {"voxel": "from voxels", "image": "from views"}  # the report's row labels


@dataclass(frozen=True)
class Scored:
    """What every section is computed from.

    Attributes:
        test: the scored split's latents and reconstruction overlaps.
        train: the train split's latents (None when the dataset has no usable train split).
        classes: class names in label order.
        seeds: seeds of the SVM cross-validation.
        jobs: parallel fits.
    """

    test: Embeddings
    train: Embeddings | None
    classes: list[str]
    seeds: int
    jobs: int


def _no_tables(section: Mapping) -> list[Table]:
    return []


@dataclass(frozen=True)
class MetricSection:
    """One metric: how it is computed, shown and summarized.

    Attributes:
        key: its top-level key in ``metrics.json``.
        compute: :class:`Scored` -> the section (a JSON-ready dict), or None to leave it out
            (e.g. retrieval in a one-branch mode).
        tables: the section -> the report's tables of it.
        headline: dotted ``metrics.json`` keys summarized over runs by ``switchvae evaluate``.
        demo: (label, dotted key) rows of the demo's summary.
        order: position in ``metrics.json``, the report and the summaries (lower first).
        timed: record its seconds as ``timing.<key>_s``.
    """

    key: str
    compute: Callable[[Scored], dict[str, Any] | None]
    tables: Callable[[Mapping], list[Table]] = _no_tables
    headline: tuple[str, ...] = ()
    demo: tuple[tuple[str, str], ...] = ()
    order: int = 100
    timed: bool = False


def metric_sections() -> list[MetricSection]:
    """Every ``METRIC`` declared by a module of this package, in order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        metric = getattr(module, "METRIC", None)
        if isinstance(metric, MetricSection):
            found.append(metric)
    return sorted(found, key=lambda m: (m.order, m.key))


def headline_keys() -> tuple[str, ...]:
    """The headline keys of every section, in order."""
    return tuple(key for metric in metric_sections() for key in metric.headline)


def fraction(value: Any) -> str:
    """A table cell: 0.123, or – when absent."""
    return f"{value:.3f}" if isinstance(value, (int, float)) else "–"


def percent(value: Any, std: Any = None) -> str:
    """A table cell: 12.3 % (± 1.2 with a std), or – when absent."""
    if not isinstance(value, (int, float)):
        return "–"
    if isinstance(std, (int, float)):
        return f"{100 * value:.1f} ± {100 * std:.1f} %"
    return f"{100 * value:.1f} %"
