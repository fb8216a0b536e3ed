"""The prepared-dataset format and pipeline, on a small in-test source (no meshes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from switchvae.data.pipeline.prepare import ItemSpec, PrepareSettings, prepare_dataset
from switchvae.data.store.prepared import (
    load_prepared,
    pack_voxels,
    read_manifest,
    unpack_voxels,
)
from switchvae.errors import DataError

SETTINGS = PrepareSettings(resolution=8, num_views=3, image_size=16)


@dataclass(frozen=True)
class BoxSource:
    """Items are boxes whose size encodes the item; views are constant images."""

    count: int = 10
    fail_every: int = 0
    channels_out: int = 1
    name: str = "boxes"

    def classes(self) -> list[str]:
        return ["small", "large"]

    def items(self) -> list[ItemSpec]:
        splits = ["train"] * 6 + ["val"] * 1 + ["test"] * 3
        return [
            ItemSpec(f"box_{k:03d}", k % 2, splits[k % len(splits)], k) for k in range(self.count)
        ]

    def channels(self, settings: PrepareSettings) -> int:
        return self.channels_out

    def build(self, item: ItemSpec, settings: PrepareSettings):
        k = item.payload
        if self.fail_every and k % self.fail_every == 0:
            raise DataError(f"box_{k:03d}: refused on purpose")
        d, s = settings.resolution, settings.image_size
        grid = np.zeros((d, d, d), bool)
        grid[1 : 2 + k % (d - 2), 1:3, 1:4] = True
        views = np.full((settings.num_views, s, s, self.channels_out), 10 * k, np.uint8)
        return grid, views

    def describe(self) -> dict:
        return {"name": self.name, "count": self.count, "fail_every": self.fail_every}


def test_pack_round_trip():
    rng = np.random.default_rng(0)
    grid = rng.random((32, 32, 32)) > 0.7
    packed = pack_voxels(grid)
    assert packed.shape == (32**3 // 8,) and packed.dtype == np.uint8
    np.testing.assert_array_equal(unpack_voxels(packed, 32), grid)


def test_prepare_writes_the_sample_contract(tmp_path: Path):
    source = BoxSource()
    result = prepare_dataset(source, tmp_path / "ds", SETTINGS, progress=False)
    assert result.split_sizes == {"train": 6, "val": 1, "test": 3}
    manifest = read_manifest(tmp_path / "ds")
    assert manifest["classes"] == ["small", "large"]
    assert manifest["resolution"] == 8 and manifest["num_views"] == 3
    assert not (tmp_path / "ds.partial").exists()

    train = load_prepared(tmp_path / "ds", "train")
    assert len(train) == 6 and train.classes == ["small", "large"]
    sample = train[2]
    assert sample["voxels"].shape == (1, 8, 8, 8) and sample["voxels"].dtype == torch.float32
    assert set(sample["voxels"].unique().tolist()) <= {0.0, 1.0}
    assert sample["views"].shape == (3, 1, 16, 16) and sample["views"].dtype == torch.float32
    assert sample["views"].min() >= 0.0 and sample["views"].max() <= 1.0
    assert sample["label"].dtype == torch.int64 and sample["index"] == 2
    item = train.ids[2]
    k = int(item.split("_")[1])
    expected, views = source.build(ItemSpec(item, k % 2, "train", k), SETTINGS)
    np.testing.assert_array_equal(train.voxels(2), expected)
    np.testing.assert_array_equal(train.views(2), views)
    assert int(train.labels[2]) == k % 2


def test_arrays_are_memory_mapped(tmp_path: Path):
    prepare_dataset(BoxSource(), tmp_path / "ds", SETTINGS, progress=False)
    train = load_prepared(tmp_path / "ds", "train")
    train.voxels(0)
    assert isinstance(train._views, np.memmap) or isinstance(train._views.base, np.memmap)


def test_view_selection(tmp_path: Path):
    prepare_dataset(BoxSource(), tmp_path / "ds", SETTINGS, progress=False)
    first = load_prepared(tmp_path / "ds", "train", num_views=2, view_mode="first")
    assert first[0]["views"].shape[0] == 2
    rand = load_prepared(tmp_path / "ds", "train", num_views=2, view_mode="random")
    assert rand[0]["views"].shape[0] == 2
    with pytest.raises(DataError, match="views"):
        load_prepared(tmp_path / "ds", "train", num_views=5)[0]


def test_batches_through_a_dataloader(tmp_path: Path):
    prepare_dataset(BoxSource(), tmp_path / "ds", SETTINGS, progress=False)
    loader = torch.utils.data.DataLoader(load_prepared(tmp_path / "ds", "train"), batch_size=4)
    batch = next(iter(loader))
    assert batch["voxels"].shape == (4, 1, 8, 8, 8)
    assert batch["views"].shape == (4, 3, 1, 16, 16)
    assert batch["label"].shape == (4,)


def test_rgba_views_get_a_background(tmp_path: Path):
    prepare_dataset(BoxSource(channels_out=4), tmp_path / "ds", SETTINGS, progress=False)
    test = load_prepared(tmp_path / "ds", "test")
    views = test[0]["views"]
    assert views.shape[1] == 3
    # alpha = 10*k/255 blends the stored colour with gray 240 in evaluation
    k = int(test.ids[0].split("_")[1])
    alpha = 10 * k / 255
    expected = round(10 * k * alpha + 240 * (1 - alpha)) / 255
    assert torch.allclose(views, torch.full_like(views, expected), atol=1 / 255)


def test_skipped_items_are_reported_and_removed(tmp_path: Path):
    result = prepare_dataset(BoxSource(fail_every=4), tmp_path / "ds", SETTINGS, progress=False)
    assert result.skipped == 3  # items 0, 4, 8
    lines = (tmp_path / "ds" / "skipped.jsonl").read_text().splitlines()
    reasons = [json.loads(line) for line in lines]
    assert {r["item_id"] for r in reasons} == {"box_000", "box_004", "box_008"}
    assert all("refused on purpose" in r["reason"] for r in reasons)
    train = load_prepared(tmp_path / "ds", "train")
    assert "box_000" not in train.ids
    for index, item in enumerate(train.ids):
        k = int(item.split("_")[1])
        assert train.views(index)[0, 0, 0, 0] == 10 * k


def test_nothing_usable_fails_and_keeps_nothing(tmp_path: Path):
    with pytest.raises(DataError, match="no usable item"):
        prepare_dataset(BoxSource(fail_every=1), tmp_path / "ds", SETTINGS, progress=False)
    assert not (tmp_path / "ds").exists()


def test_rerun_reuses_and_other_settings_refuse(tmp_path: Path):
    out = tmp_path / "ds"
    prepare_dataset(BoxSource(), out, SETTINGS, progress=False)
    before = (out / "manifest.json").read_text()
    assert prepare_dataset(BoxSource(), out, SETTINGS, progress=False).reused
    other = PrepareSettings(resolution=8, num_views=2, image_size=16)
    with pytest.raises(DataError, match="--overwrite"):
        prepare_dataset(BoxSource(), out, other, progress=False)
    assert (out / "manifest.json").read_text() == before
    prepare_dataset(BoxSource(), out, other, overwrite=True, progress=False)
    assert read_manifest(out)["num_views"] == 2


def test_refuses_a_foreign_directory(tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a prepared dataset"):
        prepare_dataset(BoxSource(), out, SETTINGS, progress=False)
    assert (out / "notes.txt").read_text() == "keep me"


def test_resume_skips_finished_chunks(tmp_path: Path):
    out = tmp_path / "ds"
    calls: list[str] = []
    stop_at = [5]

    class KilledError(Exception):
        pass

    @dataclass(frozen=True)
    class Interrupting(BoxSource):
        def build(self, item, settings):
            calls.append(item.item_id)
            if len(calls) == stop_at[0]:
                raise KilledError
            return super().build(item, settings)

    with pytest.raises(KilledError):
        prepare_dataset(Interrupting(), out, SETTINGS, chunk_size=2, progress=False)
    assert (tmp_path / "ds.partial").exists() and not out.exists()
    assert len(list((tmp_path / "ds.partial" / "done").glob("*.json"))) == 2
    calls.clear()
    stop_at[0] = -1
    prepare_dataset(Interrupting(), out, SETTINGS, chunk_size=2, progress=False)
    assert len(calls) == 10 - 4  # the two finished chunks are not redone
    reference = prepare_dataset(BoxSource(), tmp_path / "ref", SETTINGS, progress=False)
    for split in ("train", "val", "test"):
        a, b = load_prepared(out, split), load_prepared(reference.path, split)
        assert a.ids == b.ids
        for k in range(len(a)):
            np.testing.assert_array_equal(a.views(k), b.views(k))
            np.testing.assert_array_equal(a.voxels(k), b.voxels(k))


def test_parallel_workers_match_serial(tmp_path: Path):
    serial = prepare_dataset(BoxSource(), tmp_path / "a", SETTINGS, progress=False)
    parallel = prepare_dataset(
        BoxSource(), tmp_path / "b", SETTINGS, workers=2, chunk_size=3, progress=False
    )
    for split in ("train", "test"):
        a, b = load_prepared(serial.path, split), load_prepared(parallel.path, split)
        for k in range(len(a)):
            np.testing.assert_array_equal(a.voxels(k), b.voxels(k))


def test_manifest_is_typed_and_read_only(tmp_path: Path):
    import dataclasses
    import pickle

    prepare_dataset(BoxSource(), tmp_path / "ds", SETTINGS, progress=False)
    manifest = read_manifest(tmp_path / "ds")
    assert manifest.classes == ("small", "large") and manifest.resolution == 8
    assert manifest.num_views == 3 and manifest.split_size("train") == 6
    assert manifest.split_size("nope") == 0 and manifest["num_views"] == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.resolution = 16
    with pytest.raises(TypeError):
        manifest["resolution"] = 16
    writable = manifest.to_dict()
    writable["resolution"] = 16
    assert manifest.resolution == 8 and manifest["resolution"] == 8
    assert pickle.loads(pickle.dumps(manifest)) == manifest  # crosses to loader workers
