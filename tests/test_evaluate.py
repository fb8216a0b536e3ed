"""The evaluation protocol: IoU, SVM classification, retrieval and metrics.json."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from switchvae.cli.evaluate import add_evaluate_arguments, run_evaluate
from switchvae.data.pipeline.prepare import ItemSpec, PrepareSettings, prepare_dataset
from switchvae.data.store.prepared import load_prepared
from switchvae.errors import ConfigError
from switchvae.evaluate import classify
from switchvae.evaluate.classify import classify_latents
from switchvae.evaluate.embed import embed_split, use_fast_layout
from switchvae.evaluate.iou import (
    Overlap,
    overlap_counts,
    per_shape_iou,
    pooled_iou,
    summarize_iou,
)
from switchvae.evaluate.metrics import evaluate_run, flatten_metrics
from switchvae.evaluate.retrieval import (
    image_to_voxel_retrieval,
    retrieval_ranks,
    top_k_accuracy,
)
from switchvae.model.config import ModelConfig
from switchvae.model.switchvae import SwitchVAE
from switchvae.run import Run

D = 32
TINY = {"latent_dim": 8, "image_feature_dim": 32, "image_channels": 1, "aggregation": "max"}
SETTINGS = PrepareSettings(resolution=D, num_views=4, image_size=32)


# ---------------------------------------------------------------------------- IoU


def _grid(*cells: tuple[int, int, int], side: int = 4) -> torch.Tensor:
    grid = torch.zeros(side, side, side, dtype=torch.bool)
    for cell in cells:
        grid[cell] = True
    return grid


def test_iou_identical_disjoint_empty_and_a_hand_case():
    a = _grid((0, 0, 0), (1, 1, 1))
    b = _grid((2, 2, 2))
    empty = _grid()
    pred = torch.stack([a, a, empty, _grid((0, 0, 0), (0, 0, 1))])
    target = torch.stack([a, b, empty, _grid((0, 0, 1), (3, 3, 3), (2, 0, 0))])
    iou = per_shape_iou(pred, target)
    assert iou.tolist() == pytest.approx([1.0, 0.0, 1.0, 1 / 4])


def test_iou_thresholds_logits_on_probability():
    target = _grid((0, 0, 0), (1, 0, 0))[None, None].float()  # (1, 1, D, D, D) floats
    logits = torch.full((1, 1, 4, 4, 4), -5.0)
    logits[0, 0, 0, 0, 0] = 0.0  # probability 0.5: occupied (>= threshold)
    logits[0, 0, 1, 0, 0] = -0.01  # just under 0.5: empty
    assert per_shape_iou(logits, target).item() == pytest.approx(0.5)
    assert per_shape_iou(logits, target, threshold=0.4).item() == pytest.approx(1.0)


def test_overlap_counts_match_a_slow_loop():
    rng = np.random.default_rng(0)
    pred, target = rng.random((2, 5, 6, 6, 6)) > 0.6
    counts = overlap_counts(torch.from_numpy(pred), torch.from_numpy(target))
    for b in range(5):
        inter = sum(
            bool(pred[b, i, j, k] and target[b, i, j, k])
            for i in range(6)
            for j in range(6)
            for k in range(6)
        )
        union = sum(
            bool(pred[b, i, j, k] or target[b, i, j, k])
            for i in range(6)
            for j in range(6)
            for k in range(6)
        )
        assert (counts.intersection[b], counts.union[b]) == (inter, union)


def test_pooled_and_mean_iou_differ():
    # shape 0: 1 voxel found exactly (IoU 1); shape 1: 9 target voxels all missed (IoU 0)
    overlap = Overlap(np.array([1, 0]), np.array([1, 9]))
    assert overlap.iou.mean() == pytest.approx(0.5)
    assert pooled_iou(overlap.intersection, overlap.union) == pytest.approx(0.1)
    assert pooled_iou(np.zeros(2), np.zeros(2)) == 1.0


def test_summary_per_class():
    overlap = Overlap(np.array([1, 1, 0, 3]), np.array([1, 2, 4, 3]))  # IoU 1, .5, 0, 1
    summary = summarize_iou(overlap, np.array([0, 0, 1, 2]), ["a", "b", "c", "absent"])
    assert summary["per_class"] == pytest.approx({"a": 0.75, "b": 0.0, "c": 1.0})
    assert summary["mean_iou"] == pytest.approx(2.5 / 4)
    assert summary["pooled_iou"] == pytest.approx(5 / 10)


# ---------------------------------------------------------------------- classification


def _gaussians(rng, per_class: int, classes: int, spread: float, dim: int = 6):
    centers = rng.normal(size=(classes, dim)) * spread
    labels = np.repeat(np.arange(classes), per_class)
    return centers[labels] + rng.normal(size=(len(labels), dim)), labels


@pytest.mark.parametrize("kind", ["linear_svm", "rbf_svm"])
def test_svm_separates_well_separated_latents(kind):
    rng = np.random.default_rng(0)
    z_train, y_train = _gaussians(rng, 30, 3, spread=20.0)
    z_test = z_train + rng.normal(size=z_train.shape) * 0.1
    result = classify_latents(z_train, y_train, z_test, y_train, kind, seeds=2)
    assert result.accuracy >= 0.98
    assert len(result.accuracies) == 2 and len(result.C) == 2 and result.folds == 5


def test_svm_on_random_labels_is_near_chance():
    rng = np.random.default_rng(1)
    z_train, z_test = rng.normal(size=(2, 120, 6))
    y_train, y_test = rng.integers(0, 4, (2, 120))
    for kind in ("linear_svm", "rbf_svm"):
        result = classify_latents(z_train, y_train, z_test, y_test, kind, seeds=1)
        assert 0.05 <= result.accuracy <= 0.5  # chance is 0.25; 120 test items


def test_c_is_chosen_on_train_rows_only(monkeypatch):
    seen: list[np.ndarray] = []

    class RecordingSearch(classify.GridSearchCV):
        def fit(self, X, y=None, **params):  # noqa: N803 (scikit-learn's name)
            seen.append(np.array(X, copy=True))
            return super().fit(X, y, **params)

    monkeypatch.setattr(classify, "GridSearchCV", RecordingSearch)
    rng = np.random.default_rng(2)
    z_train, y_train = _gaussians(rng, 15, 2, spread=1.0)
    z_test, y_test = _gaussians(rng, 10, 2, spread=1.0)
    first = classify_latents(z_train, y_train, z_test, y_test, "rbf_svm", seeds=3)
    assert len(seen) == 3 and all(np.array_equal(x, z_train) for x in seen)
    flipped = classify_latents(z_train, y_train, z_test, 1 - y_test, "rbf_svm", seeds=3)
    assert flipped.C == first.C and flipped.cv_accuracy == first.cv_accuracy


def test_a_class_with_one_train_item_falls_back_to_default_c():
    rng = np.random.default_rng(3)
    z_train = rng.normal(size=(7, 4))
    y_train = np.array([0, 0, 0, 1, 1, 1, 2])
    result = classify_latents(z_train, y_train, z_train, y_train, "linear_svm", seeds=2)
    assert result.C == [1.0, 1.0] and result.folds == 0 and result.cv_accuracy == [None, None]


# --------------------------------------------------------------------------- retrieval


def test_retrieval_is_perfect_for_identical_latents():
    z = np.random.default_rng(4).normal(size=(50, 8))
    result = image_to_voxel_retrieval(z, z, reference=z[:20])
    assert result["top1"] == 1.0 and result["top5"] == 1.0


def test_retrieval_ranks_match_a_slow_loop_and_random_is_near_chance():
    rng = np.random.default_rng(5)
    query, gallery = rng.normal(size=(2, 300, 8))
    ranks = retrieval_ranks(query, gallery, chunk=7)
    for i in (0, 17, 299):
        distances = np.linalg.norm(gallery - query[i], axis=1)
        assert ranks[i] == np.sum(distances <= distances[i]) - 1
    scores = top_k_accuracy(ranks)
    assert scores["top5"] >= scores["top1"]
    assert scores["top1"] < 0.03 and scores["top5"] < 0.06  # chance: 1/300 and 5/300


def test_retrieval_ties_count_against_the_query():
    gallery = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    assert retrieval_ranks(gallery, gallery).tolist() == [1, 1, 0]


# ------------------------------------------------------------------ embed + metrics.json


@dataclass(frozen=True)
class TwoBoxSource:
    """Class 0: thin slabs, class 1: thick cubes; 14 train, 6 test, 2 val."""

    name: str = "two-boxes"

    def classes(self) -> list[str]:
        return ["slab", "cube"]

    def items(self) -> list[ItemSpec]:
        splits = ["train"] * 14 + ["test"] * 6 + ["val"] * 2
        return [ItemSpec(f"box_{k:02d}", k % 2, split, k) for k, split in enumerate(splits)]

    def channels(self, settings: PrepareSettings) -> int:
        return 1

    def build(self, item: ItemSpec, settings: PrepareSettings):
        d, k = settings.resolution, item.payload
        grid = np.zeros((d, d, d), bool)
        size = 4 + k % 5
        grid[4 : 4 + 3 * size, 4 : 4 + (2 if item.label == 0 else 2 * size), 4 : 4 + size] = True
        views = np.full((settings.num_views, settings.image_size, settings.image_size, 1), 0, "u1")
        views[:, : 8 * (1 + item.label), : 4 * size] = (
            200 + 10 * np.arange(settings.num_views)[:, None, None, None]
        )
        return grid, views

    def describe(self) -> dict:
        return {"name": self.name}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "data"
    prepare_dataset(TwoBoxSource(), out, SETTINGS, progress=False)
    return out


def _write_run(root: Path, mode: str = "switch", with_info: Path | None = None) -> Path:
    torch.manual_seed(0)
    model = SwitchVAE(ModelConfig(**TINY, mode=mode)).eval()
    (root / "checkpoints").mkdir(parents=True)
    config = {"model": {"mode": mode}, "data": {"num_views": 2}}
    torch.save({**model.checkpoint_payload(), "config": config}, root / "checkpoints" / "last.pt")
    if with_info is not None:
        (root / "run.json").write_text(json.dumps({"data_dir": str(with_info)}))
    return root


def test_shared_view_features_equal_encode_views(data_dir: Path):
    torch.manual_seed(0)
    model = use_fast_layout(SwitchVAE(ModelConfig(**TINY)).eval())
    dataset = load_prepared(data_dir, "test")
    out = embed_split(model, dataset, batch_size=4, num_views=2, num_workers=0, progress=False)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        z_image = model.encode_views(batch["views"][:, :2])
        z_voxel = model.encode_voxels(batch["voxels"])
        for count in (1, 2, 4):
            logits = model.decode(model.encode_views(batch["views"][:, :count]))
            expected = per_shape_iou(logits, batch["voxels"]).numpy()
            np.testing.assert_allclose(out.image_overlap[count].iou, expected)
        voxel_iou = per_shape_iou(model.decode(z_voxel), batch["voxels"]).numpy()
    np.testing.assert_allclose(out.z_image, z_image.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.z_voxel, z_voxel.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.voxel_overlap.iou, voxel_iou)
    np.testing.assert_array_equal(out.labels, dataset.labels)
    assert out.num_views == 2 and sorted(out.image_overlap) == [1, 2, 4]


REQUIRED = [
    "reconstruction.voxel.mean_iou",
    "reconstruction.voxel.pooled_iou",
    "reconstruction.image.mean_iou",
    "reconstruction.image.pooled_iou",
    "reconstruction.image.views.1.mean_iou",
    "reconstruction.image.views.4.mean_iou",
    "reconstruction.image.views.all.mean_iou",
    *(
        f"classification.{b}.{k}.{f}"
        for b in ("voxel", "image")
        for k in ("linear_svm", "rbf_svm")
        for f in ("accuracy", "std")
    ),
    "retrieval.image_to_voxel.top1",
    "retrieval.image_to_voxel.top5",
]


def test_evaluate_run_writes_every_required_key(tmp_path: Path, data_dir: Path):
    run = _write_run(tmp_path / "run")
    metrics = evaluate_run(run, data_dir, seeds=2, batch_size=4, num_workers=0, progress=False)
    written = json.loads((run / "metrics.json").read_text())
    flat = flatten_metrics(written)
    assert written["reconstruction"]["threshold"] == 0.5
    for key in REQUIRED:
        assert 0.0 <= flat[key] <= 1.0, key
    assert set(written["reconstruction"]["voxel"]["per_class"]) == {"slab", "cube"}
    assert written["reconstruction"]["image"]["num_views"] == 2  # the run's data.num_views
    assert written["reconstruction"]["image"]["views"]["all"]["num_views"] == 4
    assert len(flat["classification.voxel.rbf_svm.C"]) == 2
    assert written["num_test_shapes"] == 6 and written["num_train_shapes"] == 14
    assert written["data"]["splits"] == {"train": 14, "val": 2, "test": 6}
    assert written["data"]["classes"] == ["slab", "cube"]
    assert written["config"]["data"]["num_views"] == 2 and written["split"] == "test"
    assert "total_s" in written["timing"] and "package_version" in written
    assert flatten_metrics(metrics) == flat


@pytest.mark.parametrize(
    ("mode", "kept", "gone"), [("voxel_only", "voxel", "image"), ("image_only", "image", "voxel")]
)
def test_one_branch_mode_omits_the_other_branch(tmp_path: Path, data_dir: Path, mode, kept, gone):
    run = _write_run(tmp_path / "run", mode=mode)
    metrics = evaluate_run(
        run,
        data_dir,
        "val",
        seeds=1,
        batch_size=8,
        num_workers=0,
        precision="bf16-mixed",
        progress=False,
    )
    assert kept in metrics["reconstruction"] and gone not in metrics["reconstruction"]
    assert kept in metrics["classification"] and gone not in metrics["classification"]
    assert "retrieval" not in metrics and metrics["split"] == "val"
    assert metrics["precision"] == "bf16"
    if kept == "image":
        assert set(metrics["reconstruction"]["image"]["views"]) == {"1", "4", "all"}


def test_data_dir_comes_from_run_json_or_fails_clearly(tmp_path: Path, data_dir: Path):
    run = _write_run(tmp_path / "run", with_info=data_dir)
    assert Run(run).data_dir(None) == data_dir
    bare = _write_run(tmp_path / "bare")
    with pytest.raises(ConfigError, match="--data"):
        Run(bare).data_dir(None)
    with pytest.raises(ConfigError, match="held-out"):
        evaluate_run(run, split="train")


def test_cli_defaults_match_the_library():
    import inspect

    from switchvae.cli import evaluate as cli

    defaults = inspect.signature(evaluate_run).parameters
    assert defaults["seeds"].default == cli.DEFAULT_SEEDS
    assert defaults["num_workers"].default == cli.DEFAULT_WORKERS
    assert defaults["batch_size"].default == cli.DEFAULT_BATCH_SIZE


def test_cli_evaluates_several_runs(tmp_path: Path, data_dir: Path, capsys):
    runs = [_write_run(tmp_path / f"run{k}", with_info=data_dir) for k in range(2)]
    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    summary = tmp_path / "summary.json"
    args = parser.parse_args(
        [*map(str, runs), "--split", "val", "--seeds", "1", "--workers", "0", "--no-progress"]
        + ["--device", "cpu", "--summary", str(summary)]
    )
    assert run_evaluate(args) == 0
    printed = capsys.readouterr().out
    assert "±" in printed and "classification.voxel.rbf_svm.accuracy" in printed
    assert all((run / "metrics.json").is_file() for run in runs)
    stats = json.loads(summary.read_text())["metrics"]["reconstruction.voxel.mean_iou"]
    assert stats["runs"] == 2 and stats["std"] == pytest.approx(0.0)  # same weights


def test_metric_sections_are_registered_in_order():
    from switchvae.evaluate.sections import headline_keys, metric_sections

    keys = [metric.key for metric in metric_sections()]
    assert keys == ["reconstruction", "latents", "classification", "retrieval"]
    assert "reconstruction.image.views.all.mean_iou" in headline_keys()
    assert "classification.image.rbf_svm.accuracy" in headline_keys()
