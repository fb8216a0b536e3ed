"""Latent classification: standardized z_mean -> linear and RBF SVMs, C by CV on train only.

Protocol (DESIGN §7): a ``StandardScaler`` + SVM pipeline; C is picked from :data:`C_GRID`
by stratified k-fold cross-validation on the **train split only** (the scaler is refit inside
every fold), the pipeline is refit on all of train with that C, and only then scores the
test split once. ``linear_svm`` is ``LinearSVC`` (liblinear, squared hinge); ``rbf_svm`` is
``SVC(kernel="rbf")`` with the public code's other defaults (``gamma="scale"``).

Each seed reshuffles the CV folds (and seeds LinearSVC's solver); accuracies are reported as
mean and sample standard deviation over seeds; tied CV scores go to the smallest C
(scikit-learn keeps the first best). When some train class has fewer than 2
shapes, stratified CV is impossible: C falls back to the library default 1.0, unselected.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from switchvae.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CLASSIFIERS = ("linear_svm", "rbf_svm")
C_GRID = (0.1, 1.0, 10.0)
DEFAULT_C = 1.0  # scikit-learn's default, used when CV is impossible
MAX_FOLDS = 5
MIN_FOLDS = 2
DEFAULT_SEEDS = 3
LINEAR_MAX_ITER = 10_000


@dataclass(frozen=True)
class ClassificationResult:
    """Test accuracy of one classifier over seeds.

    Attributes:
        accuracy: mean test accuracy over seeds.
        std: sample standard deviation over seeds (0 for one seed).
        accuracies: per-seed test accuracy.
        C: per-seed chosen C.
        cv_accuracy: per-seed best mean CV accuracy on train (None without CV).
        folds: CV folds used (0 when C fell back to the default).
    """

    accuracy: float
    std: float
    accuracies: list[float]
    C: list[float]
    cv_accuracy: list[float | None]
    folds: int

    def as_dict(self) -> dict:
        """Plain-JSON form for metrics.json."""
        return {
            "accuracy": self.accuracy,
            "std": self.std,
            "accuracies": self.accuracies,
            "C": self.C,
            "cv_accuracy": self.cv_accuracy,
            "folds": self.folds,
        }


def make_classifier(kind: str, seed: int, c: float = DEFAULT_C) -> Pipeline:
    """Standardize-then-SVM pipeline for ``kind`` in :data:`CLASSIFIERS`, SVM penalty ``c``."""
    if kind == "linear_svm":
        svm = LinearSVC(C=c, dual="auto", max_iter=LINEAR_MAX_ITER, random_state=seed)
    elif kind == "rbf_svm":
        svm = SVC(kernel="rbf", C=c)
    else:
        raise DataError(f"classifier must be one of {', '.join(CLASSIFIERS)}, got {kind!r}")
    return Pipeline([("scale", StandardScaler()), ("svm", svm)])


def cv_folds(labels: np.ndarray) -> int:
    """k = min(MAX_FOLDS, smallest train class count); < MIN_FOLDS means no CV."""
    _, counts = np.unique(labels, return_counts=True)
    return int(min(MAX_FOLDS, counts.min()))


def _fit_one(
    kind: str,
    z_train: np.ndarray,
    y_train: np.ndarray,
    seed: int,
    folds: int,
    n_jobs: int | None,
) -> tuple[Pipeline, float, float | None]:
    """Fit on train, picking C by CV when possible: (fitted pipeline, C, best CV score)."""
    if folds < MIN_FOLDS:
        return make_classifier(kind, seed).fit(z_train, y_train), DEFAULT_C, None
    search = GridSearchCV(
        make_classifier(kind, seed),
        {"svm__C": list(C_GRID)},
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
        scoring="accuracy",
        refit=True,
        n_jobs=n_jobs,
    )
    search.fit(z_train, y_train)
    return search.best_estimator_, float(search.best_params_["svm__C"]), float(search.best_score_)


def _report_warnings(kind: str, caught: list[warnings.WarningMessage]) -> None:
    """Log solver non-convergence once; re-emit any other warning."""
    unconverged = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    if unconverged:
        log.warning("%s: the solver did not converge in %d fit(s)", kind, len(unconverged))
    for other in caught:
        if not issubclass(other.category, ConvergenceWarning):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)


def _check(
    z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray
) -> None:
    if z_train.ndim != 2 or z_test.ndim != 2 or z_train.shape[1] != z_test.shape[1]:
        raise DataError(
            f"latents must be (N, K) with the same K, got {z_train.shape} and {z_test.shape}"
        )
    if len(z_train) != len(y_train) or len(z_test) != len(y_test):
        raise DataError("latents and labels differ in length")
    if len(np.unique(y_train)) < 2:
        raise DataError("classification needs at least 2 classes in the train split")


def classify_latents(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    kind: str,
    seeds: int = DEFAULT_SEEDS,
    n_jobs: int | None = None,
) -> ClassificationResult:
    """Train one classifier on train latents, score it on test, over ``seeds`` seeds.

    Args:
        z_train: (N_train, K) latents; y_train: (N_train,) labels.
        z_test: (N_test, K) latents; y_test: (N_test,) labels. Used only for the final score.
        kind: "linear_svm" or "rbf_svm".
        seeds: number of seeds (0, 1, ..., seeds - 1), at least 1.
        n_jobs: parallel CV fits (scikit-learn's ``n_jobs``; None = one).

    Returns:
        :class:`ClassificationResult`.
    Raises:
        ConfigError: ``seeds`` < 1.
    """
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    _check(z_train, y_train, z_test, y_test)
    folds = cv_folds(y_train)
    if folds < MIN_FOLDS:
        log.warning(
            "a train class has < %d shapes: %s uses C=%s, no CV", MIN_FOLDS, kind, DEFAULT_C
        )
    accuracies, chosen, cv_scores = [], [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for seed in range(seeds):
            fitted, chosen_c, cv_score = _fit_one(kind, z_train, y_train, seed, folds, n_jobs)
            accuracies.append(float(np.mean(fitted.predict(z_test) == y_test)))
            chosen.append(chosen_c)
            cv_scores.append(cv_score)
    _report_warnings(kind, caught)
    return ClassificationResult(
        accuracy=float(np.mean(accuracies)),
        std=float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
        accuracies=accuracies,
        C=chosen,
        cv_accuracy=cv_scores,
        folds=folds if folds >= MIN_FOLDS else 0,
    )


def classification_section(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    seeds: int = DEFAULT_SEEDS,
    n_jobs: int | None = None,
) -> dict:
    """``{"linear_svm": {...}, "rbf_svm": {...}}`` for one branch's latents (see module doc)."""
    return {
        kind: classify_latents(z_train, y_train, z_test, y_test, kind, seeds, n_jobs).as_dict()
        for kind in CLASSIFIERS
    }
