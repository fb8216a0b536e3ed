"""Time ``evaluate_run`` end to end on a random-init cpu-sized model and random data.

Writes a prepared dataset of random arrays (~1000 test + ~2000 train shapes, 8 gray 64²
views, 32³ grids) and a checkpoint of an untrained model (K = 128, max aggregation, trained "in bf16") into a
temporary directory, then prints the seconds of each stage. The numbers measure speed only.

    .venv/bin/python benchmarks/bench_evaluate.py [--test 1000] [--train 2000] [--fp32]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from switchvae.data.store import prepared as fmt
from switchvae.evaluate.metrics import evaluate_run
from switchvae.model.config import ModelConfig
from switchvae.model.switchvae import SwitchVAE

RESOLUTION = 32
NUM_VIEWS = 8
IMAGE_SIZE = 64
NUM_CLASSES = 10
OCCUPANCY = 0.1


def write_random_dataset(root: Path, sizes: dict[str, int], seed: int = 0) -> None:
    """A prepared dataset (format version 1) of random grids, views and labels."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, size in sizes.items():
        split_dir = root / split
        split_dir.mkdir(parents=True)
        grids = rng.random((size, RESOLUTION**3)) < OCCUPANCY
        np.save(split_dir / fmt.VOXELS_FILE, np.packbits(grids, axis=1))
        views = rng.integers(0, 256, (size, NUM_VIEWS, IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.uint8)
        np.save(split_dir / fmt.VIEWS_FILE, views)
        np.save(split_dir / fmt.LABELS_FILE, rng.integers(0, NUM_CLASSES, size).astype(np.int64))
        splits[split] = {"size": size, "ids": [f"{split}_{k:05d}" for k in range(size)]}
    manifest = {
        "format": fmt.FORMAT_NAME,
        "format_version": fmt.FORMAT_VERSION,
        "source": {"name": "random-bench"},
        "resolution": RESOLUTION,
        "num_views": NUM_VIEWS,
        "image_size": IMAGE_SIZE,
        "channels": 1,
        "classes": [f"class_{k}" for k in range(NUM_CLASSES)],
        "splits": splits,
    }
    (root / fmt.MANIFEST).write_text(json.dumps(manifest))


def write_random_run(run_dir: Path) -> None:
    """RUN/checkpoints/last.pt of an untrained cpu-sized model."""
    torch.manual_seed(0)
    config = ModelConfig(latent_dim=128, image_channels=1, image_feature_dim=256, aggregation="max")
    model = SwitchVAE(config).eval()
    (run_dir / "checkpoints").mkdir(parents=True)
    run_config = {"data": {"num_views": NUM_VIEWS}, "train": {"precision": "bf16-mixed"}}
    payload = {**model.checkpoint_payload(), "config": run_config}
    torch.save(payload, run_dir / "checkpoints" / "last.pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument(
        "--fp32", action="store_true", help="no bf16 autocast (default: as trained)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tick = time.perf_counter()
        write_random_dataset(root / "data", {"train": args.train, "test": args.test})
        write_random_run(root / "run")
        print(f"setup: {time.perf_counter() - tick:.1f} s (not part of evaluation)")
        cpu = time.process_time()
        metrics = evaluate_run(
            root / "run", root / "data", seeds=args.seeds, batch_size=args.batch_size,
            num_workers=args.workers, bf16=False if args.fp32 else None, progress=False,
        )  # fmt: skip
    print(f"torch threads {torch.get_num_threads()}, {metrics['precision']}, seeds {args.seeds}")
    print(f"{args.test} test + {args.train} train shapes, {NUM_VIEWS} views of {IMAGE_SIZE}²")
    for stage, seconds in metrics["timing"].items():
        print(f"  {stage:<18} {seconds:7.2f} s")
    print(f"  {'cpu (this process)':<18} {time.process_time() - cpu:7.2f} s")


if __name__ == "__main__":
    main()
