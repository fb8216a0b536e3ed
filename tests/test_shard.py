"""Sharded prepare runs and their merge, on a small in-test source (no meshes)."""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from switchvae.cli.prepare import add_merge_arguments, run_merge
from switchvae.data.pipeline.prepare import ItemSpec, PrepareSettings, prepare_dataset
from switchvae.data.pipeline.shard import merge_shards, parse_shard, shard_ranges
from switchvae.data.store import npy_stream
from switchvae.data.store.prepared import load_prepared, read_manifest
from switchvae.errors import DataError

SETTINGS = PrepareSettings(resolution=8, num_views=2, image_size=16)
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class CountSource:
    """Item k: a box whose size and view colour encode k; every ``fail_every``-th is skipped."""

    count: int = 23
    fail_every: int = 5
    name: str = "counted"

    def classes(self) -> list[str]:
        return ["even", "odd"]

    def items(self) -> list[ItemSpec]:
        splits = ["train"] * 5 + ["val"] + ["test"] * 2
        return [ItemSpec(f"it_{k:03d}", k % 2, splits[k % 8], k) for k in range(self.count)]

    def channels(self, settings: PrepareSettings) -> int:
        return 1

    def build(self, item: ItemSpec, settings: PrepareSettings):
        k = item.payload
        if self.fail_every and k % self.fail_every == 0:
            raise DataError(f"{item.item_id}: skipped on purpose")
        d, s = settings.resolution, settings.image_size
        grid = np.zeros((d, d, d), bool)
        grid[: 1 + k % d, : 1 + (k // d) % d, 0] = True
        return grid, np.full((settings.num_views, s, s, 1), k, np.uint8)

    def describe(self) -> dict:
        return {"name": self.name, "count": self.count, "fail_every": self.fail_every}


def prepare_shards(root: Path, count: int, source=None, settings=SETTINGS) -> list[Path]:
    source = source or CountSource()
    paths = []
    for index in range(count):
        path = root / f"shard{index}"
        prepare_dataset(source, path, settings, chunk_size=2, progress=False, shard=(index, count))
        paths.append(path)
    return paths


def assert_same_dataset(a: Path, b: Path) -> None:
    for split in SPLITS:
        x, y = load_prepared(a, split), load_prepared(b, split)
        assert x.ids == y.ids
        np.testing.assert_array_equal(x.labels, y.labels)
        for k in range(len(x)):
            np.testing.assert_array_equal(x.voxels(k), y.voxels(k))
            np.testing.assert_array_equal(x.views(k), y.views(k))


def skipped_ids(path: Path) -> set[str]:
    lines = (path / "skipped.jsonl").read_text().splitlines()
    return {json.loads(line)["item_id"] for line in lines}


@pytest.mark.parametrize(
    ("text", "expected"), [("0/1", (0, 1)), ("2/8", (2, 8)), (" 7 / 8 ", (7, 8))]
)
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["8/8", "1/0", "-1/4", "3", "a/b", "1/2/3", ""])
def test_parse_shard_refuses(text):
    with pytest.raises(DataError, match="I/N"):
        parse_shard(text)


def test_ranges_tile_every_split():
    for size in range(0, 30):
        for count in range(1, 12):
            ranges = [shard_ranges({"train": size}, i, count)["train"] for i in range(count)]
            covered = [k for lo, hi in ranges for k in range(lo, hi)]
            assert covered == list(range(size))
            assert max(hi - lo for lo, hi in ranges) - min(hi - lo for lo, hi in ranges) <= 1


def test_streamed_row_selection_matches_numpy(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(npy_stream, "COPY_BLOCK_BYTES", 7)  # blocks smaller than a row
    array = np.random.default_rng(0).integers(0, 255, (40, 3, 5), dtype=np.uint8)
    np.save(tmp_path / "a.npy", array)
    rows = [0, 1, 2, 5, 9, 10, 11, 39]
    npy_stream.select_rows(tmp_path / "a.npy", tmp_path / "b.npy", rows)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), array[rows])
    npy_stream.select_rows(tmp_path / "a.npy", tmp_path / "c.npy", [])
    assert np.load(tmp_path / "c.npy").shape == (0, 3, 5)


def test_merged_shards_equal_an_unsharded_run(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(npy_stream, "COPY_BLOCK_BYTES", 100)  # many blocks per array
    reference = prepare_dataset(CountSource(), tmp_path / "whole", SETTINGS, progress=False)
    shards = prepare_shards(tmp_path, 3)
    entry = read_manifest(shards[1])["shard"]
    assert entry["index"] == 1 and entry["count"] == 3
    assert entry["plan_fingerprint"] == read_manifest(reference.path)["fingerprint"]
    assert load_prepared(shards[1], "train").ids == load_prepared(reference.path, "train").ids[4:8]

    shuffled = list(shards)
    random.Random(0).shuffle(shuffled)
    result = merge_shards(shuffled, tmp_path / "merged", progress=False)
    assert not result.reused and result.skipped == reference.skipped == 5
    assert result.split_sizes == reference.split_sizes
    assert_same_dataset(tmp_path / "merged", reference.path)
    assert skipped_ids(tmp_path / "merged") == skipped_ids(reference.path)
    merged = read_manifest(tmp_path / "merged")
    assert "shard" not in merged and merged["fingerprint"] == entry["plan_fingerprint"]
    assert not (tmp_path / "merged.merging").exists()
    # The merge is what an unsharded run writes: prepare reuses it, merge again too.
    assert prepare_dataset(CountSource(), tmp_path / "merged", SETTINGS, progress=False).reused
    assert merge_shards(shards, tmp_path / "merged", progress=False).reused


def test_more_shards_than_items_in_a_split(tmp_path: Path):
    source = CountSource(count=9, fail_every=0)  # val has 1 item, test 2
    shards = prepare_shards(tmp_path, 4, source)
    assert sum(len(load_prepared(s, "val")) for s in shards) == 1
    merge_shards(shards, tmp_path / "merged", progress=False)
    reference = prepare_dataset(source, tmp_path / "whole", SETTINGS, progress=False)
    assert_same_dataset(tmp_path / "merged", reference.path)


def test_an_empty_or_all_skipped_shard_is_still_a_shard(tmp_path: Path):
    source = CountSource(count=2, fail_every=0)  # two train items, three shards
    shards = prepare_shards(tmp_path, 3, source)
    assert [len(load_prepared(s, "train")) for s in shards] == [0, 1, 1]
    merge_shards(shards, tmp_path / "merged", progress=False)
    assert load_prepared(tmp_path / "merged", "train").ids == ["it_000", "it_001"]
    skipping = CountSource(count=2, fail_every=1)  # every item refused
    with pytest.raises(DataError, match="no usable item"):
        merge_shards(prepare_shards(tmp_path / "s", 2, skipping), tmp_path / "m2", progress=False)
    assert not (tmp_path / "m2").exists()


def test_shard_runs_resume_like_any_run(tmp_path: Path):
    path = prepare_shards(tmp_path, 2)[0]
    again = prepare_dataset(CountSource(), path, SETTINGS, progress=False, shard=(0, 2))
    assert again.reused
    with pytest.raises(DataError, match="--overwrite"):
        prepare_dataset(CountSource(), path, SETTINGS, progress=False, shard=(1, 2))


def test_merge_refuses_incomplete_or_mixed_sets(tmp_path: Path):
    shards = prepare_shards(tmp_path / "a", 3)
    out = tmp_path / "merged"
    with pytest.raises(DataError, match=r"missing shard\(s\) 1/3"):
        merge_shards([shards[0], shards[2]], out, progress=False)
    with pytest.raises(DataError, match="given twice"):
        merge_shards([*shards, shards[1]], out, progress=False)
    other = PrepareSettings(resolution=8, num_views=3, image_size=16)
    stranger = prepare_shards(tmp_path / "b", 3, settings=other)[1]
    with pytest.raises(DataError, match="another prepare plan"):
        merge_shards([shards[0], stranger, shards[2]], out, progress=False)
    whole = prepare_dataset(CountSource(), tmp_path / "whole", SETTINGS, progress=False).path
    with pytest.raises(DataError, match="not a shard"):
        merge_shards([whole], out, progress=False)
    unfinished = tmp_path / "c" / "shard1"
    (tmp_path / "c" / "shard1.partial").mkdir(parents=True)
    with pytest.raises(DataError, match="not finished"):
        merge_shards([shards[0], unfinished, shards[2]], out, progress=False)
    assert not out.exists() and not (tmp_path / "merged.merging").exists()


def test_merge_detects_a_tampered_shard(tmp_path: Path):
    shards = prepare_shards(tmp_path, 2)
    manifest = json.loads((shards[1] / "manifest.json").read_text())
    manifest["splits"]["train"]["size"] -= 1
    (shards[1] / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="split 'train' holds"):
        merge_shards(shards, tmp_path / "merged", progress=False)


def test_merge_command(tmp_path: Path, capsys):
    shards = prepare_shards(tmp_path, 2)
    parser = argparse.ArgumentParser()
    add_merge_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path / "m"), *map(str, shards), "--no-progress"])
    assert run_merge(args) == 0
    assert "merged 2 shards" in capsys.readouterr().out
    assert len(load_prepared(tmp_path / "m", "train")) == 12
