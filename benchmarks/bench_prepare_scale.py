"""Prepare at scale: throughput on a 2,000-mesh tree, and memory flat from 1k to 10k shapes.

Three measurements, each in a fresh subprocess so that its peak RSS figures are its own
(``ru_maxrss`` of RUSAGE_SELF = the main process, of RUSAGE_CHILDREN = the largest worker):

1. ``tree``: 2,004 procedural meshes (the synthetic set, 167 per class) written as OFF files
   into a ModelNet-like ``<class>/{train,test}/`` tree, prepared through the ModelNet source
   (load OFF, normalize, voxelize 32³, render 12 views at 64²) with all cores: shapes/s.
2. ``cheap``: 1,000 and 10,000 items of an in-process source whose build costs nearly
   nothing (32³ grid, 12 views at 64²), so that the pipeline's own memory shows: the
   memory maps and per-chunk work keep RSS flat as N grows. Run with and without 1% of
   items skipped (skips make the finalize step compact the arrays).
3. ``merge``: the 10,000 items prepared as 4 shards, then merged: merge time and RSS.

    python benchmarks/bench_prepare_scale.py [--tree 167] [--cheap 1000 10000] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from switchvae.data.pipeline.prepare import ItemSpec, PrepareSettings, prepare_dataset
from switchvae.data.pipeline.shard import merge_shards
from switchvae.errors import DataError

SETTINGS = PrepareSettings(resolution=32, num_views=12, image_size=64)
SHARDS = 4
SKIP_EVERY = 100  # 1% of items refused by the cheap source in the "skips" variant


@dataclass(frozen=True)
class CheapSource:
    """``count`` items whose (voxels, views) cost almost nothing to build."""

    count: int
    skip_every: int = 0
    name: str = "cheap"

    def classes(self) -> list[str]:
        return [f"class{c}" for c in range(10)]

    def items(self) -> list[ItemSpec]:
        splits = ["train"] * 7 + ["val"] + ["test"] * 2
        return [ItemSpec(f"item_{k:06d}", k % 10, splits[k % 10], k) for k in range(self.count)]

    def channels(self, settings: PrepareSettings) -> int:
        return 1

    def build(self, item: ItemSpec, settings: PrepareSettings):
        k = item.payload
        if self.skip_every and k % self.skip_every == 0:
            raise DataError(f"{item.item_id}: skipped on purpose")
        d, s = settings.resolution, settings.image_size
        grid = np.zeros((d, d, d), bool)
        grid[1 : 2 + k % (d - 2), 1:8, 1:8] = True
        return grid, np.full((settings.num_views, s, s, 1), k % 251, np.uint8)

    def describe(self) -> dict:
        return {"name": self.name, "count": self.count, "skip_every": self.skip_every}


def peak_rss_mb() -> dict[str, float]:
    """Peak RSS in MiB of this process and of its largest finished child (Linux: KiB)."""
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"rss_main_mb": round(main, 1), "rss_worker_mb": round(workers, 1)}


def _write_off(job: tuple) -> None:
    from switchvae.data.sources.synthetic_set import make_item_mesh

    item, path = job
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    make_item_mesh(item).export(path, file_type="off")


def phase_write_tree(root: Path, per_class: int, workers: int) -> dict:
    from switchvae.data.sources.synthetic_set import synthetic_items

    items = synthetic_items(per_class, 0)
    jobs = []
    for item in items:
        folder = "test" if item.split == "test" else "train"  # ModelNet has no val folder
        jobs.append((item, str(root / item.class_name / folder / f"{item.item_id}.off")))
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_off, jobs, chunksize=16))
    return {"meshes": len(jobs)}


def phase_prepare_tree(root: Path, out: Path, workers: int) -> dict:
    from switchvae.data.sources.modelnet import ModelNetSource

    start = time.perf_counter()
    result = prepare_dataset(
        ModelNetSource(root, up_axis="y"), out, SETTINGS, workers, progress=False
    )
    seconds = time.perf_counter() - start
    shapes = sum(result.split_sizes.values()) + result.skipped
    return {"shapes": shapes, "seconds": round(seconds, 1), "shapes_per_s": round(shapes / seconds, 1),
            "skipped": result.skipped, **peak_rss_mb()}  # fmt: skip


def phase_cheap(count: int, out: Path, workers: int, skip_every: int, shards: int) -> dict:
    source = CheapSource(count, skip_every)
    start = time.perf_counter()
    if shards:
        for index in range(shards):
            shard_out = out / f"shard{index}"
            prepare_dataset(
                source, shard_out, SETTINGS, workers, progress=False, shard=(index, shards)
            )
    else:
        prepare_dataset(source, out, SETTINGS, workers, progress=False)
    seconds = time.perf_counter() - start
    return {"shapes": count, "seconds": round(seconds, 1),
            "shapes_per_s": round(count / seconds, 1), **peak_rss_mb()}  # fmt: skip


def phase_merge(shard_root: Path, out: Path) -> dict:
    shard_dirs = sorted(shard_root.glob("shard*"))
    start = time.perf_counter()
    result = merge_shards(shard_dirs, out, progress=False)
    seconds = time.perf_counter() - start
    size = sum(f.stat().st_size for f in out.rglob("*.npy"))
    return {"shapes": sum(result.split_sizes.values()), "seconds": round(seconds, 1),
            "mb_per_s": round(size / 2**20 / seconds, 1), **peak_rss_mb()}  # fmt: skip


def run_phase(*args: str) -> dict:
    """Run one phase in a fresh interpreter; return its JSON result."""
    done = subprocess.run(
        [sys.executable, __file__, "--phase", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_one_phase(argv: list[str]) -> None:
    name, *rest = argv
    workers = int(os.environ.get("BENCH_WORKERS", len(os.sched_getaffinity(0))))
    if name == "write-tree":
        result = phase_write_tree(Path(rest[0]), int(rest[1]), workers)
    elif name == "prepare-tree":
        result = phase_prepare_tree(Path(rest[0]), Path(rest[1]), workers)
    elif name == "cheap":
        count, out, skip_every, shards = int(rest[0]), Path(rest[1]), int(rest[2]), int(rest[3])
        result = phase_cheap(count, out, workers, skip_every, shards)
    else:
        result = phase_merge(Path(rest[0]), Path(rest[1]))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=int, default=167, help="meshes per class (12 classes)")
    parser.add_argument("--cheap", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    os.environ["BENCH_WORKERS"] = str(args.workers)
    print(f"workers: {args.workers}; settings: 32³ voxels, 12 views at 64² (gray)")
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        work = Path(tmp)
        if args.tree:
            written = run_phase("write-tree", str(work / "tree"), str(args.tree))
            tree = run_phase("prepare-tree", str(work / "tree"), str(work / "tree_out"))
            print(f"tree of {written['meshes']} OFF meshes -> prepare: {tree}")
        for count in args.cheap:
            for skip_every in (0, SKIP_EVERY):
                out = work / f"cheap_{count}_{skip_every}"
                result = run_phase("cheap", str(count), str(out), str(skip_every), "0")
                label = "1% skipped" if skip_every else "no skips"
                print(f"cheap source, {count} items, {label}: {result}")
        largest = max(args.cheap)
        sharded = run_phase("cheap", str(largest), str(work / "shards"), "0", str(SHARDS))
        print(f"cheap source, {largest} items in {SHARDS} shards: {sharded}")
        merged = run_phase("merge", str(work / "shards"), str(work / "merged"))
        print(f"merge of the {SHARDS} shards: {merged}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        run_one_phase(sys.argv[2:])
    else:
        main()
