"""How much the lean model file's storage type changes a trained model.

Saves RUN's model in float32, float16 and bfloat16, loads each back as float32, and compares
latent means and decoded voxels with the checkpoint's model on every 4th shape of a split:

    python benchmarks/lean_model_file.py RUN --data DATA --split val
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from switchvae.data.store.prepared import load_prepared
from switchvae.model.pretrained import save_pretrained
from switchvae.model.switchvae import SwitchVAE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--views", type=int, default=12)
    args = parser.parse_args()
    reference = SwitchVAE.from_checkpoint(args.run / "checkpoints" / "last.pt").eval()
    dataset = load_prepared(args.data, args.split, args.views, "first")
    picked = range(0, len(dataset), 4)
    voxels = torch.stack([torch.as_tensor(dataset[i]["voxels"]) for i in picked]).float()
    views = torch.stack([torch.as_tensor(dataset[i]["views"]) for i in picked]).float()
    target = voxels > 0.5

    def iou(occupied: torch.Tensor) -> float:
        inter = (occupied & target).flatten(1).sum(1)
        return (inter / (occupied | target).flatten(1).sum(1)).mean().item()

    with torch.no_grad():
        mu_voxel, _ = reference.voxel_encoder(voxels)
        mu_image, _ = reference.image_encoder(views)
        decoded = reference.decoder(mu_voxel) > 0
    print(f"{len(picked)} {args.split} shapes; reference voxel IoU {iou(decoded):.4f}")
    with tempfile.TemporaryDirectory() as folder:
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            path = save_pretrained(reference, Path(folder) / f"{dtype}.safetensors", dtype)
            model = SwitchVAE.from_pretrained(path)
            with torch.no_grad():
                mu_v, _ = model.voxel_encoder(voxels)
                mu_i, _ = model.image_encoder(views)
                occupied = model.decoder(mu_v) > 0
            print(
                f"{str(dtype):15} {path.stat().st_size / 1e6:5.1f} MB  "
                f"max|Δμ| voxel {(mu_v - mu_voxel).abs().max():.1e} image "
                f"{(mu_i - mu_image).abs().max():.1e}  voxels flipped "
                f"{int((occupied ^ decoded).sum())} of {occupied.numel()}  IoU {iou(occupied):.4f}"
            )


if __name__ == "__main__":
    main()
