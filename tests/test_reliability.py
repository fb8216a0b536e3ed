"""Each failure of issue 10 reproduced at library level (the CLI table is test_hostile.py)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from reliability_support import CUBE_OFF, SETTINGS, BoxSource, snapshot
from switchvae.data.pipeline.prepare import PrepareSettings, prepare_dataset
from switchvae.data.pipeline.shard import merge_shards
from switchvae.data.store.prepared import load_prepared
from switchvae.errors import ConfigError, DataError

# --- item 1: never remove a folder the package did not make ------------------------------


def test_a_user_folder_named_like_the_work_folder_is_kept(tmp_path: Path):
    user = tmp_path / "d.partial"
    user.mkdir()
    (user / "thesis.tex").write_text("x")
    with pytest.raises(DataError, match=r"d\.partial exists and was not made by switchvae"):
        prepare_dataset(BoxSource(), tmp_path / "d", SETTINGS, progress=False)
    assert (user / "thesis.tex").read_text() == "x"
    assert not (tmp_path / "d").exists()


def test_overwrite_never_touches_a_user_folder_named_old(tmp_path: Path):
    out = tmp_path / "d"
    prepare_dataset(BoxSource(count=4), out, SETTINGS, progress=False)
    user = tmp_path / "d.old"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    prepare_dataset(BoxSource(count=6), out, SETTINGS, overwrite=True, progress=False)
    assert (user / "notes.txt").read_text() == "mine"
    assert len(load_prepared(out, "train")) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "d.old"]
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "skipped.jsonl",
        "test",
        "train",
        "val",
    ]


def test_an_own_work_folder_of_other_settings_is_still_discarded(tmp_path: Path):
    work = tmp_path / "d.partial"
    work.mkdir()
    (work / "plan.json").write_text(json.dumps({"fingerprint": "older plan"}))
    (work / "leftover.npy").write_bytes(b"old")
    prepare_dataset(BoxSource(), tmp_path / "d", SETTINGS, progress=False)
    assert not work.exists() and len(load_prepared(tmp_path / "d", "test")) == 2


def test_merge_keeps_a_user_folder_named_like_its_work_folder(tmp_path: Path):
    shards = []
    for index in range(2):
        shard = tmp_path / f"s{index}"
        prepare_dataset(BoxSource(), shard, SETTINGS, progress=False, shard=(index, 2))
        shards.append(shard)
    user = tmp_path / "m.merging"
    user.mkdir()
    (user / "keep.txt").write_text("k")
    with pytest.raises(DataError, match="not made by switchvae"):
        merge_shards(shards, tmp_path / "m", progress=False)
    assert (user / "keep.txt").read_text() == "k"
    user.joinpath("keep.txt").unlink()
    user.rmdir()
    merge_shards(shards, tmp_path / "m", progress=False)
    assert not user.exists() and not (tmp_path / "m" / ".switchvae.lock").exists()


# --- item 9: one writer per output --------------------------------------------------------


def test_a_second_prepare_into_the_same_out_stops_with_one_line(tmp_path: Path):
    from switchvae.data.store.output_dir import work_dir

    out = tmp_path / "d"
    with work_dir(out, ".partial", "prepare") as work:
        (work / "in-progress").write_text("")
        with pytest.raises(DataError, match=f"another prepare is writing {out}"):
            prepare_dataset(BoxSource(), out, SETTINGS, progress=False)
        assert (work / "in-progress").exists()


def test_a_published_dataset_holds_no_bookkeeping(tmp_path: Path):
    out = tmp_path / "d"
    prepare_dataset(BoxSource(), out, SETTINGS, progress=False)
    names = {p.name for p in out.iterdir()}
    assert names == {"manifest.json", "skipped.jsonl", "train", "val", "test"}
    assert sorted(os.listdir(tmp_path)) == ["d"]


# --- item 10: one-line messages, no silent nonsense values ------------------------------


def test_unreadable_checkpoint_is_one_line(tmp_path: Path):
    from switchvae.train.checkpoint import read_checkpoint

    path = tmp_path / "last.pt"
    path.write_bytes(b"\x80\x02cos\nsystem\n" + bytes(range(256)) * 8)
    with pytest.raises(ConfigError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert "unreadable checkpoint" in message and str(path) in message
    assert len(message.splitlines()) == 1 and "weights_only" not in message


def test_zero_seeds_are_refused():
    from switchvae.evaluate.classify import classify_latents

    z = np.random.default_rng(0).normal(size=(8, 2))
    y = np.arange(8) % 2
    with pytest.raises(ConfigError, match="seeds must be at least 1"):
        classify_latents(z, y, z, y, "linear_svm", seeds=0)


# --- item 4: one bad file is skipped, the run goes on ------------------------------------


def test_an_item_that_fails_to_decode_is_skipped(tmp_path: Path):
    surrogate = UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")
    source = BoxSource(bad=((1, OverflowError("int too large to convert")), (3, surrogate)))
    result = prepare_dataset(source, tmp_path / "d", SETTINGS, progress=False)
    assert result.skipped == 2 and result.split_sizes["train"] == 2
    lines = (tmp_path / "d" / "skipped.jsonl").read_text().splitlines()
    reasons = {json.loads(line)["item_id"]: json.loads(line)["reason"] for line in lines}
    assert reasons["box_1"].startswith("OverflowError") and "box_3" in reasons


def test_a_file_name_that_is_not_utf8_is_prepared_under_an_escaped_id(tmp_path: Path):
    from switchvae.data.sources.mesh_folder import MeshFolderSource

    folder = tmp_path / "meshes" / "box"
    folder.mkdir(parents=True)
    for name in (b"a.off", b"b.off", b"odd\xff.off"):
        (folder / os.fsdecode(name)).write_text(CUBE_OFF)
    source = MeshFolderSource(tmp_path / "meshes", val_fraction=0.0, test_fraction=0.0)
    prepare_dataset(source, tmp_path / "d", SETTINGS, progress=False)
    ids = load_prepared(tmp_path / "d", "train").ids
    assert sorted(ids) == ["box/a.off", "box/b.off", "box/odd\\xff.off"]


# --- item 2: fit writes only into a run of its own ---------------------------------------


@pytest.fixture(scope="module")
def boxes32(tmp_path_factory) -> Path:
    """A tiny dataset the tiny preset can train on (32³ grids, 2 gray views of 32²)."""
    out = tmp_path_factory.mktemp("boxes32") / "data"
    settings = PrepareSettings(resolution=32, num_views=2, image_size=32)
    prepare_dataset(BoxSource(count=9), out, settings, progress=False)
    return out


def _tiny():
    from switchvae.config import load_config

    return load_config("tiny", overrides=["train.epochs=1"])


def test_fit_refuses_a_folder_of_user_files_and_leaves_it_alone(tmp_path: Path, boxes32: Path):
    from switchvae.train.fit import fit

    user = tmp_path / "u"
    user.mkdir()
    (user / "config.yaml").write_text("mine\n")
    (user / "log.jsonl").write_text("note\n")
    before = snapshot(user)
    with pytest.raises(ConfigError, match="is not a switchvae run"):
        fit(_tiny(), boxes32, user, progress=False)
    assert snapshot(user) == before


@pytest.mark.parametrize("where", ["dataset", "inside"])
def test_fit_refuses_to_write_into_the_dataset(boxes32: Path, where: str):
    from switchvae.train.fit import fit

    before = snapshot(boxes32)
    out = boxes32 if where == "dataset" else boxes32 / "train" / "run"
    with pytest.raises(ConfigError, match="dataset"):
        fit(_tiny(), boxes32, out, progress=False)
    assert snapshot(boxes32) == before
    assert out == boxes32 or not out.exists()


def test_fit_accepts_an_empty_folder_or_its_own_run(tmp_path: Path):
    from switchvae.train.rundir import check_run_dir

    (tmp_path / "empty").mkdir()
    check_run_dir(tmp_path / "empty", tmp_path / "data", resume=False)
    check_run_dir(tmp_path / "new", tmp_path / "data", resume=False)
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"data_dir": "x", "package_version": "0"}))
    (run / "config.yaml").write_text("model: {}\n")
    check_run_dir(run, tmp_path / "data", resume=False)


def test_a_second_fit_into_the_same_run_stops(tmp_path: Path, boxes32: Path):
    from switchvae.locks import hold_lock
    from switchvae.train.fit import fit

    run = tmp_path / "run"
    run.mkdir()
    with hold_lock(run, "fit"), pytest.raises(DataError, match=f"another fit is writing {run}"):
        fit(_tiny(), boxes32, run, progress=False)
    assert [p.name for p in run.iterdir()] == [".switchvae.lock"]


# --- item 3: a full disk is an error with a message, and the work stays resumable ---------


def test_prepare_refuses_up_front_when_the_disk_is_too_small(small_disk):
    disk = small_disk("1m")
    with pytest.raises(DataError, match="not enough free space"):
        prepare_dataset(BoxSource(count=40), disk / "d", BIG_VIEWS, progress=False)
    assert list(disk.iterdir()) == []


def test_allocation_on_a_full_disk_raises_instead_of_crashing(small_disk):
    from switchvae.data.store.allocate import allocate_arrays

    disk = small_disk("1m")
    items = BoxSource(count=40).items()
    with pytest.raises(OSError) as info:
        allocate_arrays(disk / "w", items, BIG_VIEWS, 1)
    assert info.value.errno == errno.ENOSPC


def test_disk_full_while_finishing_then_resume_gives_the_same_dataset(small_disk, tmp_path):
    from conftest import resize_disk

    source = BoxSource(count=24, bad=((4, DataError("bad on purpose")),))
    reference = prepare_dataset(source, tmp_path / "reference", BIG_VIEWS, progress=False).path
    disk = small_disk("4500k")  # the arrays fit; compacting the skipped item away does not
    with pytest.raises(DataError, match=r"no space left on the device while writing .*d\.partial"):
        prepare_dataset(source, disk / "d", BIG_VIEWS, progress=False)
    assert (disk / "d.partial" / "plan.json").is_file()
    resize_disk(disk, "16m")
    prepare_dataset(source, disk / "d", BIG_VIEWS, progress=False)
    for split in ("train", "test"):
        a, b = load_prepared(reference, split), load_prepared(disk / "d", split)
        assert a.ids == b.ids
        for k in range(len(a)):
            np.testing.assert_array_equal(a.views(k), b.views(k))


BIG_VIEWS = PrepareSettings(resolution=8, num_views=8, image_size=128)


# --- items 4 and 5: hostile headers are refused before memory is spent ------------------


@pytest.mark.parametrize("dims", ["99999999999999999999999 1 1", "1024 1024 1024"])
def test_binvox_with_a_huge_grid_is_refused(tmp_path: Path, dims: str):
    from switchvae.data.geometry.binvox import read_binvox

    path = tmp_path / "huge.binvox"
    path.write_bytes(
        f"#binvox 1\ndim {dims}\ntranslate 0 0 0\nscale 1\ndata\n".encode() + b"\x00\xff"
    )
    with pytest.raises(DataError, match="larger than the 512³"):
        read_binvox(path)


def _npz_member(array: np.ndarray, shape: tuple[int, ...]) -> bytes:
    import io

    buffer = io.BytesIO()
    header = {"descr": array.dtype.str, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    buffer.write(array.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("compression", ["stored", "deflated"])
@pytest.mark.parametrize("member", ["X_train", "y_train"])
def test_npz_whose_header_claims_more_rows_than_stored_is_refused(tmp_path, compression, member):
    import zipfile

    from switchvae.data.sources.voxel_arrays import VoxelArraySource

    grids, labels = np.ones((4, 8, 8, 8), np.uint8), np.arange(4) % 2
    shapes = {"X_train": grids.shape, "y_train": labels.shape}
    shapes[member] = (10**9, *shapes[member][1:])
    path = tmp_path / "lying.npz"
    kind = zipfile.ZIP_STORED if compression == "stored" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", kind) as archive:
        archive.writestr("X_train.npy", _npz_member(grids, shapes["X_train"]))
        archive.writestr("y_train.npy", _npz_member(labels, shapes["y_train"]))
    with pytest.raises(DataError, match=f"'{member}': its header claims shape"):
        VoxelArraySource(path).items()


def test_a_huge_label_without_class_names_is_refused(tmp_path: Path):
    from switchvae.data.sources.voxel_arrays import VoxelArraySource

    path = tmp_path / "labels.npz"
    grids = np.ones((3, 8, 8, 8), np.uint8)
    np.savez(path, X_train=grids, y_train=np.array([0, 1, 10**9]))
    with pytest.raises(DataError, match="label 1000000000 would make"):
        VoxelArraySource(path).classes()


def test_voxel_arrays_larger_than_the_limit_are_refused():
    from switchvae.data.sources.arrays_layout import grid_side

    assert grid_side((2, 512, 512, 512), "x") == 512
    with pytest.raises(DataError, match="larger than the 512³"):
        grid_side((2, 1, 1024, 1024, 1024), "x")


# --- item 6: a tampered dataset is refused when opened, naming the file -----------------


def _tamper(root: Path, how: str) -> str:
    """Damage a copy of a prepared dataset; return the file name the error must name."""
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if how == "truncated views":
        path = root / "train" / "views.npy"
        path.write_bytes(path.read_bytes()[:-100])
        return "views.npy"
    if how == "no resolution":
        del manifest["resolution"]
    elif how == "ids longer than arrays":
        manifest["splits"]["train"]["ids"].append("extra")
        manifest["splits"]["train"]["size"] += 1
    elif how == "ids and size disagree":
        manifest["splits"]["train"]["ids"].append("extra")
    elif how == "object labels":
        np.save(root / "train" / "labels.npy", np.array([1, "a", None, 2], dtype=object))
        return "labels.npy"
    elif how == "label out of range":
        np.save(root / "train" / "labels.npy", np.array([0, 1, 7, 1]))
        return "labels.npy"
    elif how == "manifest is a list":
        manifest = [manifest]
    manifest_path.write_text(json.dumps(manifest))
    return "voxels.npy" if how == "ids longer than arrays" else "manifest.json"


TAMPERING = [
    "truncated views",
    "no resolution",
    "ids longer than arrays",
    "ids and size disagree",
    "object labels",
    "label out of range",
    "manifest is a list",
]


@pytest.mark.parametrize("how", TAMPERING)
def test_a_tampered_dataset_is_refused_naming_the_file(tmp_path: Path, how: str):
    import shutil

    clean = tmp_path / "clean"
    prepare_dataset(BoxSource(), clean, SETTINGS, progress=False)
    assert len(load_prepared(clean, "train")) == 4
    shutil.copytree(clean, tmp_path / "d")
    named = _tamper(tmp_path / "d", how)
    with pytest.raises(DataError, match=named.replace(".", r"\.")) as info:
        load_prepared(tmp_path / "d", "train")
    assert len(str(info.value).splitlines()) == 1


# --- item 7: config files are mappings of plain values ----------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n- 2\n", "expected a mapping of sections .* got a list"),
        ("train:\n  epochs: ${oc.env:HOME}\n", r"train\.epochs: .* is an interpolation"),
        ("data:\n  num_views: ${train.epochs}\n", r"data\.num_views: .* is an interpolation"),
        ("train: [1, 2]\n", "train must be a mapping of keys"),
        ("trian:\n  epochs: 2\n", "unknown section 'trian'"),
    ],
)
def test_a_bad_config_file_is_one_clear_line(tmp_path: Path, text: str, message: str):
    from switchvae.config import load_config, read_config_file

    path = tmp_path / "config.yaml"
    path.write_text(text)
    for load in (lambda: load_config("tiny", path), lambda: read_config_file(path)):
        with pytest.raises(ConfigError, match=message) as info:
            load()
        assert len(str(info.value).splitlines()) == 1


def test_interpolation_is_refused_in_overrides_and_saved_configs(monkeypatch):
    from switchvae.config import config_from_dict, config_to_dict, load_config, tiny_preset

    monkeypatch.setenv("SWITCHVAE_SECRET", "hunter2")
    with pytest.raises(ConfigError, match="interpolation"):
        load_config("tiny", overrides=["train.precision=${oc.env:SWITCHVAE_SECRET}"])
    saved = config_to_dict(tiny_preset())
    saved["train"]["precision"] = "${oc.env:SWITCHVAE_SECRET}"
    with pytest.raises(ConfigError, match="interpolation") as info:
        config_from_dict(saved)
    assert "hunter2" not in str(info.value)


# --- item 8: options that used to end in a traceback ------------------------------------


@pytest.mark.parametrize("out", [".", "..", "./"])
def test_prepare_refuses_the_current_folder_as_out(tmp_path: Path, monkeypatch, out: str):
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    with pytest.raises(DataError, match="name a new folder"):
        prepare_dataset(BoxSource(), out, SETTINGS, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["empty"] and not os.listdir(here)


def test_a_cuda_device_that_is_not_there_is_a_clear_error():
    import torch

    from switchvae.cli.args import parse_device

    missing = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda:0"
    with pytest.raises(ConfigError, match=f"--device {missing}"):
        parse_device(missing)
    assert parse_device("cpu").type == "cpu"


def test_interpolation_steps_are_bounded():
    import argparse

    import torch

    from switchvae.analysis.interpolate import lerp_latents
    from switchvae.cli.args import int_up_to
    from switchvae.limits import MAX_SERIES_STEPS

    z = torch.zeros(4)
    assert lerp_latents(z, z, MAX_SERIES_STEPS).shape == (MAX_SERIES_STEPS, 4)
    with pytest.raises(ConfigError, match="steps"):
        lerp_latents(z, z, 100_000_000)
    with pytest.raises(argparse.ArgumentTypeError, match="at most"):
        int_up_to(MAX_SERIES_STEPS)("100000000")


@pytest.mark.parametrize(("field", "value"), [("num_views", 100_000), ("image_size", 4096)])
def test_view_count_and_size_are_bounded(field: str, value: int):
    with pytest.raises(DataError, match=f"{field}={value} "):
        PrepareSettings(**{field: value})
