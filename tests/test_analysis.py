"""Analysis: latent walks, grid/mesh export, figures, the HTML report and the commands."""

from __future__ import annotations

import argparse
import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from analysis_support import LATENT_DIM, fake_metrics, make_run, shared_data
from switchvae.analysis.figures import (
    grid_picture,
    project_2d,
    save_latent_map,
    save_series,
    save_training_curves,
)
from switchvae.analysis.interpolate import (
    interpolate_items,
    latent_arithmetic,
    lerp_latents,
    sample_prior,
)
from switchvae.analysis.latents import (
    decode_probabilities,
    encode_items,
    open_run,
    reconstruct_items,
    resolve_item,
    spread_indices,
)
from switchvae.analysis.meshes import export_decoded, probabilities_to_mesh
from switchvae.analysis.report import ReportOptions, write_report
from switchvae.analysis.tables import metrics_tables
from switchvae.cli.analysis import add_commands as add_analysis_parsers
from switchvae.data.geometry.binvox import read_binvox, read_binvox_header
from switchvae.data.geometry.render import voxels_to_mesh
from switchvae.errors import ConfigError, DataError
from switchvae.run import read_log

FIGURES = {
    "training_curves.png",
    "reconstructions.png",
    "interpolation_voxels.png",
    "interpolation_views.png",
    "arithmetic.png",
    "prior_samples.png",
    "latent_map.png",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return shared_data(tmp_path_factory)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir: Path) -> Path:
    return make_run(tmp_path_factory.mktemp("analysis_run"), data_dir)


@pytest.fixture(scope="module")
def run(run_dir: Path, data_dir: Path):
    return open_run(run_dir, data_dir, "test")


def _png(path: Path) -> np.ndarray:
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(path).convert("RGB"))


def _box(side: int = 32) -> np.ndarray:
    grid = np.zeros((side, side, side), dtype=bool)
    grid[3:11, 5:20, 8:12] = True
    grid[20:30, 0:4, 20:32] = True  # touches two borders of the grid
    return grid


# --- latent walks -------------------------------------------------------------------------


def test_lerp_hits_both_ends_and_steps_evenly():
    z_a, z_b = torch.zeros(4), torch.arange(4.0)
    z = lerp_latents(z_a, z_b, 5)
    assert z.shape == (5, 4)
    torch.testing.assert_close(z[0], z_a)
    torch.testing.assert_close(z[-1], z_b)
    torch.testing.assert_close(z[2], (z_a + z_b) / 2)
    with pytest.raises(ConfigError, match="at least 2"):
        lerp_latents(z_a, z_b, 1)


@pytest.mark.parametrize("source", ["voxels", "views"])
def test_interpolation_ends_are_the_items_reconstructions(run, source):
    dataset = run.dataset
    series = interpolate_items(run.model, dataset, dataset.ids[0], 5, steps=4, source=source)
    assert series.probabilities.shape == (4, 32, 32, 32) and series.z.shape == (4, LATENT_DIM)
    alone = decode_probabilities(run.model, encode_items(run.model, dataset, [0, 5], source))
    np.testing.assert_allclose(series.probabilities[[0, -1]], alone, atol=1e-5)
    assert dataset.ids[0] in series.captions[0] and dataset.ids[5] in series.captions[-1]
    assert source in series.title


def test_views_and_voxels_give_different_latents(run):
    z_voxels = encode_items(run.model, run.dataset, [0, 1], "voxels")
    z_views = encode_items(run.model, run.dataset, [0, 1], "views")
    assert not torch.allclose(z_voxels, z_views)


def test_arithmetic_is_a_minus_b_plus_c(run):
    series = latent_arithmetic(run.model, run.dataset, 0, 1, 2)
    z = series.z
    np.testing.assert_allclose(z[3], z[0] - z[1] + z[2], atol=1e-6)
    assert series.captions[3] == "a − b + c" and len(series.probabilities) == 4


def test_prior_samples_are_seeded(run):
    first, again = sample_prior(run.model, 3, seed=7), sample_prior(run.model, 3, seed=7)
    other = sample_prior(run.model, 3, seed=8)
    np.testing.assert_array_equal(first.z, again.z)
    assert not np.allclose(first.z, other.z)
    assert first.probabilities.shape == (3, 32, 32, 32)
    assert first.probabilities.min() >= 0.0 and first.probabilities.max() <= 1.0


def test_items_by_id_or_index(run):
    dataset = run.dataset
    assert resolve_item(dataset, dataset.ids[3]) == 3
    assert resolve_item(dataset, "3") == 3 and resolve_item(dataset, -1) == len(dataset) - 1
    with pytest.raises(DataError, match="out of range"):
        resolve_item(dataset, str(len(dataset)))
    with pytest.raises(DataError, match="no item 'teapot_9'"):
        resolve_item(dataset, "teapot_9")


def test_a_one_branch_model_refuses_the_missing_input(tmp_path, data_dir):
    voxel_only = open_run(make_run(tmp_path, data_dir, mode="voxel_only"), data_dir)
    with pytest.raises(ConfigError, match="no encoder for views"):
        encode_items(voxel_only.model, voxel_only.dataset, [0], "views")
    rows = reconstruct_items(voxel_only.model, voxel_only.dataset, [0])
    assert rows[0].from_views is None and rows[0].from_voxels is not None


def test_spread_indices_cycle_through_classes():
    labels = np.array([0, 0, 0, 1, 1, 2])
    assert spread_indices(labels, 3) == [0, 3, 5]
    assert spread_indices(labels, 5) == [0, 1, 3, 4, 5]
    assert spread_indices(labels, 99) == list(range(6))


# --- meshes and binvox --------------------------------------------------------------------


def test_mesh_of_a_0_1_grid_lies_on_the_voxel_faces():
    grid = _box()
    mesh = probabilities_to_mesh(grid.astype(np.float32))
    cubes = voxels_to_mesh(grid)  # the exact voxel surface, for comparison
    assert mesh.is_watertight and mesh.volume > 0
    # The 0.5 level between a full and an empty voxel center is exactly on their shared face.
    np.testing.assert_allclose(mesh.bounds, cubes.bounds, atol=1e-6)
    assert mesh.volume == pytest.approx(cubes.volume, rel=0.1)  # corners are cut off
    assert len(mesh.split(only_watertight=False)) == 2


def test_mesh_of_soft_probabilities_moves_with_the_threshold():
    x = np.indices((16, 16, 16)).astype(np.float32)
    radius = np.sqrt(((x - 7.5) ** 2).sum(axis=0))
    probabilities = np.clip(1.0 - (radius - 4.0) / 4.0, 0.0, 1.0)
    small = probabilities_to_mesh(probabilities, threshold=0.8)
    large = probabilities_to_mesh(probabilities, threshold=0.2)
    assert 0 < small.volume < large.volume
    # level 0.5 sits at radius 6 voxels: volume 4/3 π (6/16)³ in the unit cube
    middle = probabilities_to_mesh(probabilities)
    assert middle.volume == pytest.approx(4 / 3 * np.pi * (6 / 16) ** 3, rel=0.05)


def test_mesh_refuses_empty_and_malformed_grids():
    with pytest.raises(DataError, match="empty"):
        probabilities_to_mesh(np.full((8, 8, 8), 0.3))
    with pytest.raises(DataError, match="cubic"):
        probabilities_to_mesh(np.zeros((8, 8, 4)))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        probabilities_to_mesh(np.full((8, 8, 8), 2.0))


def test_export_every_format(tmp_path):
    probabilities = _box().astype(np.float32) * 0.9
    written = export_decoded(probabilities, tmp_path / "shape.binvox")
    np.testing.assert_array_equal(read_binvox(written), probabilities >= 0.5)
    header = read_binvox_header(written)
    assert header.translate == (-0.5, -0.5, -0.5) and header.scale == 1.0
    reference = probabilities_to_mesh(probabilities)
    for suffix in (".obj", ".ply", ".glb"):
        loaded = trimesh.load(export_decoded(probabilities, tmp_path / f"shape{suffix}"))
        if isinstance(loaded, trimesh.Scene):
            loaded = loaded.to_geometry()
        assert loaded.volume == pytest.approx(reference.volume, rel=1e-4)
        np.testing.assert_allclose(loaded.bounds, reference.bounds, atol=1e-5)
    with pytest.raises(DataError, match="one of"):
        export_decoded(probabilities, tmp_path / "shape.stl")
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


# --- figures ------------------------------------------------------------------------------


def test_grid_picture_and_empty_grid():
    assert grid_picture(np.zeros((32, 32, 32))) is None
    picture = grid_picture(_box().astype(np.float32) * 0.7, image_size=64)
    assert picture.shape == (64, 64, 3) and picture.dtype == np.uint8
    assert (picture < 250).any() and (picture == 255).any()


def test_training_curves_figure_from_a_real_log_shape(run_dir, tmp_path):
    records = read_log(run_dir / "log.jsonl")
    assert len(records) == 33 and records[-1]["step"] == 30  # the cut line is skipped
    image = _png(save_training_curves(records, tmp_path / "curves.png"))
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert (np.abs(np.diff(image.astype(int), axis=1)) > 0).mean() > 0.01  # not blank


def test_series_wraps_into_rows(run, tmp_path):
    series = sample_prior(run.model, 6)
    wide = _png(save_series(series, tmp_path / "wide.png"))
    wrapped = _png(save_series(series, tmp_path / "wrapped.png", columns=3))
    assert wide.shape[1] > 1.5 * wrapped.shape[1] and wrapped.shape[0] > wide.shape[0]


def test_projection_uses_pca_for_few_points_and_tsne_for_many():
    rng = np.random.default_rng(0)
    few = np.concatenate([rng.normal(0, 0.1, (5, 6)), rng.normal(5, 0.1, (5, 6))])
    coords, method = project_2d(few)
    assert method == "PCA" and coords.shape == (10, 2)
    assert abs(coords[:5, 0].mean() - coords[5:, 0].mean()) > 5  # clusters apart on PC 1
    many = np.concatenate([rng.normal(0, 0.1, (20, 6)), rng.normal(5, 0.1, (20, 6))])
    coords, method = project_2d(many)
    assert method == "t-SNE" and coords.shape == (40, 2)
    centers = coords[:20].mean(axis=0), coords[20:].mean(axis=0)
    spread = max(coords[:20].std(axis=0).max(), coords[20:].std(axis=0).max())
    assert np.linalg.norm(centers[0] - centers[1]) > 3 * spread


def test_latent_map_figure(tmp_path):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(40, 8))
    latents = {"voxels": z, "views": z + 0.05 * rng.normal(size=z.shape)}
    image = _png(save_latent_map(latents, np.arange(40) % 4, list("abcd"), tmp_path / "m.png"))
    assert image.shape[1] > image.shape[0] > 300


# --- tables and report --------------------------------------------------------------------


def test_metrics_tables_follow_the_metrics(run):
    tables = {t.title: t for t in metrics_tables(fake_metrics(run.dataset.classes))}
    recon = tables["reconstruction IoU"]
    assert recon.rows == [["from voxels", "0.512", "0.550"], ["from views", "0.377", "0.390"]]
    assert len(tables["IoU per class"].rows) == 12
    assert tables["IoU from images vs number of views"].rows[-1][0] == "all (3)"
    svm = next(t for title, t in tables.items() if title.startswith("latent classification"))
    assert svm.rows[0] == ["from voxels", "75.0 ± 2.0 %", "81.2 ± 0.0 %"]
    retrieval = next(t for title, t in tables.items() if title.startswith("retrieval"))
    assert retrieval.rows == [["top-1", "25.0 %"], ["top-5", "66.7 %"]]
    one_branch = {t.title for t in metrics_tables(fake_metrics(["a"], two_branches=False))}
    assert "IoU from images vs number of views" not in one_branch
    assert not any(title.startswith("retrieval") for title in one_branch)


def test_report_is_self_contained_with_every_figure(run_dir):
    options = ReportOptions(reconstructions=3, steps=4, prior_samples=4)
    path = write_report(run_dir, options=options)  # data directory: from the run's metrics.json
    html = path.read_text(encoding="utf-8")
    assert {p.name for p in (run_dir / "figures").glob("*.png")} == FIGURES
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == len(FIGURES)
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    assert embedded == {(run_dir / "figures" / name).read_bytes() for name in FIGURES}
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # nothing fetched from elsewhere
    for text in ("Run summary", "Training curves", "Metrics", "Reconstructions", "0.512"):
        assert text in html
    assert "synthetic" in html and "model.latent_dim" in html


def test_report_without_data_or_metrics_still_writes(tmp_path):
    run_dir = make_run(tmp_path, data_dir=None)
    (run_dir / "metrics.json").unlink()
    html = write_report(run_dir).read_text()
    assert "pass --data DIR" in html and "switchvae evaluate RUN" in html
    assert {p.name for p in (run_dir / "figures").glob("*.png")} == {"training_curves.png"}


def test_report_with_real_evaluation_metrics(tmp_path, data_dir):
    from switchvae.evaluate.metrics import evaluate_run

    run_dir = make_run(tmp_path, data_dir=None)
    metrics = evaluate_run(run_dir, data_dir, seeds=1, num_workers=0, progress=False)
    small = ReportOptions(reconstructions=2, steps=3, prior_samples=2, max_map_shapes=6)
    html = write_report(run_dir, data_dir, small).read_text()
    mean_iou = metrics["reconstruction"]["voxel"]["mean_iou"]
    assert f'<td class="num">{mean_iou:.3f}</td>' in html
    assert "retrieval" in html and "IoU from images vs number of views" in html


def test_report_refuses_a_data_directory_that_does_not_fit(tmp_path, data_dir):
    run_dir = make_run(tmp_path, data_dir=None)
    with pytest.raises(DataError, match="not a prepared dataset"):
        write_report(run_dir, tmp_path)


# --- commands -----------------------------------------------------------------------------


def _run_command(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="switchvae")
    add_analysis_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_commands_write_what_they_say(run_dir, data_dir, tmp_path, capsys):
    common = ("--data", str(data_dir), "--device", "cpu")
    out = tmp_path / "recon.png"
    assert (
        _run_command("reconstruct", str(run_dir), *common, "--count", "3", "--out", str(out)) == 0
    )
    assert _png(out).shape[0] > 3 * 150 and str(out) in capsys.readouterr().out
    out = tmp_path / "walk.png"
    argv = ("interpolate", str(run_dir), *common, "--a", "0", "--b", "bed_0000", "--from", "views")
    assert _run_command(*argv, "--steps", "3", "--out", str(out)) == 0
    assert _png(out).shape[1] > 3 * 150
    out = tmp_path / "z.npz"
    assert _run_command("encode", str(run_dir), *common, "--out", str(out), "--no-progress") == 0
    saved = np.load(out)
    assert saved["z_voxel"].shape == saved["z_image"].shape == (12, LATENT_DIM)
    assert saved["ids"][1] == "bed_0000" and list(saved["labels"]) == list(range(12))
    run = open_run(run_dir, data_dir)
    with run.autocast():  # the command encodes in the run's precision, resolved here
        expected = encode_items(run.model, run.dataset, [4], "views")[0].numpy()
    np.testing.assert_allclose(saved["z_image"][4], expected, atol=1e-5)
    for suffix in (".obj", ".binvox"):
        out = tmp_path / f"item{suffix}"
        assert _run_command("export", str(run_dir), *common, "--item", "2", "--out", str(out)) == 0
        assert out.stat().st_size > 0


def test_commands_fail_with_one_clear_error(run_dir, data_dir, tmp_path):
    common = ("--data", str(data_dir), "--device", "cpu")
    with pytest.raises(DataError, match="no item 'chair_9999'"):
        _run_command("export", str(run_dir), *common, "--item", "chair_9999", "--out", "x.obj")
    with pytest.raises(ConfigError, match="FILE.npz"):
        _run_command("encode", str(run_dir), *common, "--out", str(tmp_path / "z.txt"))
    with pytest.raises(ConfigError, match="checkpoint not found"):
        _run_command("report", str(tmp_path), *common)
    with pytest.raises(DataError, match="export to one of"):  # before looking for the run
        _run_command("export", str(tmp_path / "nowhere"), "--item", "1", "--out", "x.stl")
    with pytest.raises(SystemExit):
        _run_command("export", str(run_dir), "--item", "1", "--out", "x.obj", "--from", "mesh")


def test_run_json_names_the_data_directory(tmp_path, data_dir):
    run_dir = make_run(tmp_path, data_dir=None)
    with pytest.raises(ConfigError, match="pass --data"):
        open_run(run_dir)
    (run_dir / "run.json").write_text(json.dumps({"data_dir": str(data_dir)}))
    assert open_run(run_dir).data_dir == data_dir
