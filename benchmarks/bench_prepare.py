"""Data-pipeline throughput: normalize + voxelize + render, and the voxelizer vs trimesh's.

Prints meshes per second for the whole per-shape path (normalize, voxelize at 32³, 12 ring
views) at 64² and at 137², in one process and over all cores, and the voxelizer side by
side with trimesh's ``voxelized(pitch).fill()`` measured in the same run (medians over the
meshes, ratios against the in-run baseline). Meshes: the real ModelNet fixtures plus
procedural synthetic meshes.

    python benchmarks/bench_prepare.py [--synthetic 40] [--repeats 3]

Targets on 2 cores: >= 30 meshes/s end to end at 64², voxelizer >= 10x trimesh's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import trimesh

from switchvae.data.geometry.mesh import load_mesh, normalize_mesh
from switchvae.data.geometry.voxelize import voxelize_mesh
from switchvae.data.pipeline.pair import mesh_pair
from switchvae.data.pipeline.prepare import PrepareSettings
from switchvae.data.sources.synthetic_set import SYNTHETIC_CLASSES, make_shape

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "modelnet_off"
TARGET_MESHES_PER_S = 30.0
TARGET_VOXELIZER_SPEEDUP = 10.0


def load_meshes(synthetic: int) -> list[tuple[trimesh.Trimesh, str]]:
    """Fixture meshes (z-up) and synthetic meshes (y-up), with their up axis."""
    meshes = [(load_mesh(p), "z") for p in sorted(FIXTURES.rglob("*.off"))]
    rng = np.random.default_rng(0)
    for k in range(synthetic):
        meshes.append((make_shape(SYNTHETIC_CLASSES[k % len(SYNTHETIC_CLASSES)], rng), "y"))
    return meshes


def time_each(fn, items, repeats: int) -> list[float]:
    """Best-of-``repeats`` seconds of ``fn(item)`` for each item."""
    times = []
    for item in items:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn(item)
            best = min(best, time.perf_counter() - start)
        times.append(best)
    return times


def trimesh_voxelize(mesh: trimesh.Trimesh, resolution: int = 32) -> np.ndarray:
    """The baseline: trimesh's surface voxelization + fill, at the same pitch."""
    return mesh.voxelized(pitch=1.0 / resolution).fill().matrix


def _pair(args: tuple[trimesh.Trimesh, str, PrepareSettings]) -> None:
    mesh, up, settings = args
    mesh_pair(mesh, settings, up_axis=up)


def parallel_rate(meshes, settings: PrepareSettings, workers: int) -> float:
    """Meshes per second over ``workers`` processes (warm pool, whole list)."""
    jobs = [(m, up, settings) for m, up in meshes]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_pair, jobs[:workers]))  # warm up the workers
        start = time.perf_counter()
        list(pool.map(_pair, jobs, chunksize=4))
        return len(jobs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic meshes to add")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    meshes = load_meshes(args.synthetic)
    faces = [len(m.faces) for m, _ in meshes]
    print(f"{len(meshes)} meshes, faces median {int(np.median(faces))}, max {max(faces)}")

    canonical = [normalize_mesh(m, 32, up) for m, up in meshes]
    ours = time_each(lambda m: voxelize_mesh(m, 32, normalize=False), canonical, args.repeats)
    theirs = time_each(trimesh_voxelize, canonical, 1)
    ours_ms, theirs_ms = 1e3 * statistics.median(ours), 1e3 * statistics.median(theirs)
    speedup = statistics.median(t / o for t, o in zip(theirs, ours, strict=True))
    print(f"voxelizer (32³): ours {ours_ms:.2f} ms/mesh, trimesh voxelized().fill() "
          f"{theirs_ms:.2f} ms/mesh, median speed-up {speedup:.1f}x "
          f"(target >= {TARGET_VOXELIZER_SPEEDUP:.0f}x)")  # fmt: skip

    workers = len(os.sched_getaffinity(0))
    for size in (64, 137):
        settings = PrepareSettings(num_views=12, image_size=size)
        single = time_each(lambda item, s=settings: _pair((*item, s)), meshes, args.repeats)
        rate = parallel_rate(meshes, settings, workers)
        target = f" (target >= {TARGET_MESHES_PER_S:.0f})" if size == 64 else ""
        print(f"end to end, 12 views at {size}²: {1e3 * statistics.median(single):.1f} ms/mesh "
              f"in one process ({1 / statistics.median(single):.1f} meshes/s); "
              f"{rate:.1f} meshes/s over {workers} processes{target}")  # fmt: skip


if __name__ == "__main__":
    main()
