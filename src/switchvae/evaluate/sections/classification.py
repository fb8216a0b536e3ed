"""``classification``: SVMs on the latents, fit on train, scored on the held-out split.

Keys: ``classification.{voxel,image}.{linear_svm,rbf_svm}.{accuracy,std,accuracies,C,
cv_accuracy,folds}`` and ``classification.protocol`` (see :mod:`switchvae.evaluate.classify`);
``classification.skipped`` (with the protocol) when the train split has fewer than 2 classes.
Only the train split decides anything (C, standardization).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from switchvae.analysis.html import Table
from switchvae.evaluate.classify import C_GRID, CLASSIFIERS, MAX_FOLDS, classification_section
from switchvae.evaluate.sections import BRANCHES, MetricSection, Scored, percent

CLASSIFIER_NAMES = {"linear_svm": "linear SVM", "rbf_svm": "RBF SVM"}


def compute(scored: Scored) -> dict:
    """Both classifiers on each branch's latents."""
    train, test = scored.train, scored.test
    protocol = {
        "C_grid": list(C_GRID),
        "max_folds": MAX_FOLDS,
        "seeds": scored.seeds,
        "fit_on": "train",
    }
    if train is None or len(np.unique(train.labels)) < 2:
        return {"skipped": "the train split has fewer than 2 classes", "protocol": protocol}
    section: dict[str, Any] = {"protocol": protocol}
    for branch in ("voxel", "image"):
        z_train, z_test = getattr(train, f"z_{branch}"), getattr(test, f"z_{branch}")
        if z_train is not None and z_test is not None:
            section[branch] = classification_section(
                z_train, train.labels, z_test, test.labels, scored.seeds, scored.jobs
            )
    return section


def tables(section: Mapping) -> list[Table]:
    """SVM test accuracy (mean ± std over seeds) per branch and classifier."""
    if not section:
        return []
    if "skipped" in section:
        note = f"skipped: {section['skipped']}"
        return [Table("latent classification (SVM)", ["input"], [], note)]
    rows = [
        [
            BRANCHES[b],
            *(
                percent(section[b].get(k, {}).get("accuracy"), section[b].get(k, {}).get("std"))
                for k in CLASSIFIER_NAMES
            ),
        ]
        for b in BRANCHES
        if isinstance(section.get(b), Mapping)
    ]
    protocol = section.get("protocol", {})
    note = (
        f"standardized z_mean; C from {protocol.get('C_grid')} by CV on train; "
        f"mean ± std over {protocol.get('seeds')} seed(s)"
        if protocol
        else ""
    )
    title = "latent classification (SVM test accuracy)"
    return [Table(title, ["input", *CLASSIFIER_NAMES.values()], rows, note)]


METRIC = MetricSection(
    key="classification",
    compute=compute,
    tables=tables,
    headline=tuple(
        f"classification.{b}.{k}.accuracy" for b in ("voxel", "image") for k in CLASSIFIERS
    ),
    demo=tuple(
        (f"{CLASSIFIER_NAMES[k]}, {b} latents", f"classification.{b}.{k}.accuracy")
        for k in CLASSIFIERS
        for b in ("voxel", "image")
    ),
    order=30,
    timed=True,
)
