"""Training engine: loss goes down, checkpoints load safely, kill + resume is exact,
a NaN stops the run with the last good checkpoint, 2-process DDP matches one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from switchvae.config import load_config
from switchvae.data.pipeline.prepare import ItemSpec, PrepareSettings, prepare_dataset
from switchvae.errors import ConfigError
from switchvae.model.switchvae import SwitchVAE
from switchvae.train import engine
from switchvae.train.checkpoint import last_checkpoint, read_checkpoint
from switchvae.train.engine import NonFiniteLossError, forward_losses
from switchvae.train.fit import fit
from switchvae.train.loader import EpochSampler, train_loader
from switchvae.train.schedule import build_scheduler, lr_factor, paper_factor
from switchvae.train.setup import build_model, build_optimizer, switch_generator

TRAIN_ITEMS, VAL_ITEMS = 8, 4
SETTINGS = PrepareSettings(resolution=32, num_views=3, image_size=32)
# 8 train shapes, batch 4: 2 steps per epoch; 2 epochs = 4 steps, crossing an epoch end.
RUN_OVERRIDES = ["train.epochs=2", "train.checkpoint_every_steps=1"]
TOTAL_STEPS = 4
# A checkpoint holds ~230 MB (ResNet-18 + AdamW state): the reference run writes only its last.
# (checkpoint_every_steps may differ between runs: it does not change the result.)
REFERENCE_OVERRIDES = ["train.epochs=2", "train.checkpoint_every_steps=1000"]
DDP_PORT = 29517
FIT_SCRIPT = (
    "import argparse, sys\n"
    "from switchvae.cli.fit import add_fit_arguments, run_fit\n"
    "parser = argparse.ArgumentParser()\n"
    "add_fit_arguments(parser)\n"
    "sys.exit(run_fit(parser.parse_args(sys.argv[1:])))\n"
)


@dataclass(frozen=True)
class BoxSource:
    """Boxes whose width encodes the item; views show a bar of matching width."""

    name: str = "boxes"

    def classes(self) -> list[str]:
        return ["thin", "thick"]

    def items(self) -> list[ItemSpec]:
        splits = ["train"] * TRAIN_ITEMS + ["val"] * VAL_ITEMS
        return [ItemSpec(f"box_{k:02d}", k % 2, split, k) for k, split in enumerate(splits)]

    def channels(self, settings: PrepareSettings) -> int:
        return 1

    def build(self, item: ItemSpec, settings: PrepareSettings):
        k, d, size = item.payload, settings.resolution, settings.image_size
        width = 4 + 4 * (k % 2) + k // 4
        grid = np.zeros((d, d, d), bool)
        grid[4:28, 4 : 4 + width, 10 : 10 + width] = True
        views = np.zeros((settings.num_views, size, size, 1), np.uint8)
        for v in range(settings.num_views):
            views[v, 4:28, 4 : 4 + width + v, 0] = 200
        return grid, views

    def describe(self) -> dict:
        return {"name": self.name}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "boxes"
    prepare_dataset(BoxSource(), out, SETTINGS, progress=False)
    return out


@pytest.fixture(scope="module")
def reference_run(data_dir: Path, tmp_path_factory) -> Path:
    """An uninterrupted tiny run of TOTAL_STEPS steps."""
    run_dir = tmp_path_factory.mktemp("runs") / "reference"
    config = load_config("tiny", overrides=REFERENCE_OVERRIDES)
    result = fit(config, data_dir, run_dir, progress=False)
    assert result.step == TOTAL_STEPS
    return run_dir


def _fit_command(data_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    args = ["--data", str(data_dir), "--out", str(run_dir), "--preset", "tiny", "--no-progress"]
    for override in RUN_OVERRIDES:
        args += ["--set", override]
    return [sys.executable, "-c", FIT_SCRIPT, *args, *extra]


def _log_steps(run_dir: Path) -> list[int]:
    """Steps of the training log records (a line being written may be cut: skipped)."""
    path = run_dir / "log.jsonl"
    if not path.is_file():
        return []
    steps = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss/total" in record:
            steps.append(record["step"])
    return steps


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss(reference_run: Path):
    records = _records(reference_run)
    reconstruction = [r["loss/reconstruction"] for r in records if "loss/total" in r]
    assert len(reconstruction) == TOTAL_STEPS
    assert reconstruction[-1] < 0.95 * reconstruction[0]
    validations = [r for r in records if "val/iou_voxel" in r]
    assert [r["step"] for r in validations] == [2, 4]
    assert all(0.0 <= r["val/iou_voxel"] <= 1.0 for r in validations)
    assert (reference_run / "config.yaml").is_file() and (reference_run / "tb").is_dir()


def test_checkpoint_loads_weights_only_and_as_a_model(reference_run: Path):
    path = last_checkpoint(reference_run)
    payload = torch.load(path, weights_only=True)
    assert payload["step"] == TOTAL_STEPS and payload["config"]["model"]["latent_dim"] == 16
    assert {"optimizer", "scheduler", "rng", "model_config", "model"} <= payload.keys()
    model = SwitchVAE.from_checkpoint(path)
    _assert_same_weights(model.state_dict(), payload["model"])
    assert not list(path.parent.glob("*.tmp"))
    lean = SwitchVAE.from_pretrained(reference_run / "model.safetensors")  # stored as float16
    assert lean.state_dict().keys() == payload["model"].keys()
    for key, value in lean.state_dict().items():
        torch.testing.assert_close(value, payload["model"][key], rtol=1e-3, atol=1e-3)
    assert (reference_run / "model.safetensors").stat().st_size < path.stat().st_size / 2


def test_existing_run_needs_resume(reference_run: Path, data_dir: Path):
    config = load_config("tiny", overrides=REFERENCE_OVERRIDES)
    with pytest.raises(ConfigError, match="--resume"):
        fit(config, data_dir, reference_run, progress=False)
    other = load_config("tiny", overrides=[*REFERENCE_OVERRIDES, "model.latent_dim=8"])
    with pytest.raises(ConfigError, match="model.latent_dim"):
        fit(other, data_dir, reference_run, resume=True, progress=False)
    before = read_checkpoint(last_checkpoint(reference_run))
    result = fit(config, data_dir, reference_run, resume=True, progress=False)
    assert result.step == TOTAL_STEPS  # a finished run resumes to "nothing left to do"
    assert result.val_metrics == before["val_metrics"]
    _assert_same_weights(read_checkpoint(last_checkpoint(reference_run))["model"], before["model"])


@pytest.mark.slow
def test_kill_and_resume_gives_the_uninterrupted_weights(
    reference_run: Path, data_dir: Path, tmp_path: Path
):
    run_dir = tmp_path / "killed"
    process = subprocess.Popen(_fit_command(data_dir, run_dir), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # The step-3 log line is written after the step-2 checkpoint.
    while not any(step >= 3 for step in _log_steps(run_dir)) and process.poll() is None:
        assert time.monotonic() < deadline, "the run never reached step 3"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it was killed"
    killed_at = read_checkpoint(last_checkpoint(run_dir))["step"]
    assert 2 <= killed_at < TOTAL_STEPS

    resumed = subprocess.run(_fit_command(data_dir, run_dir, "--resume"), capture_output=True)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert f"trained {TOTAL_STEPS} steps" in resumed.stdout.decode()
    final = read_checkpoint(last_checkpoint(run_dir))
    reference = read_checkpoint(last_checkpoint(reference_run))
    _assert_same_weights(final["model"], reference["model"])
    assert final["optimizer"]["state"].keys() == reference["optimizer"]["state"].keys()
    assert _log_steps(run_dir) == list(range(1, TOTAL_STEPS + 1))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(
    data_dir: Path, tmp_path: Path, monkeypatch
):
    calls = {"n": 0}
    real = engine.compute_losses

    def poisoned(output, voxels, config, kl_weight):
        calls["n"] += 1
        losses = real(output, voxels, config, kl_weight)
        if calls["n"] == 3:
            return type(losses)(losses.total * np.nan, losses.reconstruction * np.nan,
                                losses.kl, losses.alignment)  # fmt: skip
        return losses

    monkeypatch.setattr(engine, "compute_losses", poisoned)
    run_dir = tmp_path / "nan"
    config = load_config("tiny", overrides=RUN_OVERRIDES)
    with pytest.raises(NonFiniteLossError, match=r"step 3 \(total, reconstruction\)"):
        fit(config, data_dir, run_dir, progress=False)
    payload = read_checkpoint(last_checkpoint(run_dir))
    assert payload["step"] == 2
    assert all(torch.isfinite(t).all() for t in payload["model"].values() if t.is_floating_point())


@pytest.mark.slow
def test_cpu_preset_step_runs_in_bf16_channels_last(data_dir: Path, tmp_path: Path):
    overrides = ["train.max_steps=1", "data.num_views=3", "data.batch_size=4"]
    config = load_config("cpu", overrides=[*overrides, "train.precision=bf16-mixed"])
    assert config.train.channels_last
    result = fit(config, data_dir, tmp_path / "bf16", progress=False)
    assert result.step == 1 and np.isfinite(result.losses["total"])
    weights = read_checkpoint(result.checkpoint)["model"]
    assert weights["image_encoder.backbone.conv1.weight"].dtype == torch.float32


def _emulate_ddp(config, data_dir: Path, steps: int, world: int) -> dict:
    """One process doing what `world` DDP processes do: each rank's shard of the global
    batch with the same switch generator state, gradients averaged, one optimizer step."""
    from switchvae.data.store.prepared import load_prepared

    dataset = load_prepared(data_dir, "train", config.data.num_views, "random")
    network = build_model(config, 1)
    optimizer = build_optimizer(network, config)
    per_epoch = len(dataset) // (config.data.batch_size * world)
    scheduler = build_scheduler(optimizer, config.optim, steps, per_epoch)
    generator = switch_generator(config.train.seed)
    samplers = [
        EpochSampler(len(dataset), config.data.batch_size, config.train.seed, rank, world)
        for rank in range(world)
    ]
    shards = [iter(train_loader(dataset, sampler, 0)) for sampler in samplers]
    for _ in range(steps):
        optimizer.zero_grad()
        start = generator.get_state()
        for shard in shards:
            generator.set_state(start)
            losses = forward_losses(network, next(shard), generator, config.loss, 0.0)
            (losses.total / world).backward()
        optimizer.step()
        scheduler.step()
    return {name: value.detach() for name, value in network.named_parameters()}


def _run_ddp(data_dir: Path, run_dir: Path, overrides: list[str], tmp: Path, port: int) -> None:
    """``fit`` in 2 CPU processes under torchrun; fails the test with its stderr."""
    args = ["--data", str(data_dir), "--out", str(run_dir), "--preset", "tiny", "--no-progress"]
    for override in overrides:
        args += ["--set", override]
    script = tmp / "fit_script.py"
    script.write_text(FIT_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_port", str(port), str(script), *args, "--devices", "2"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=240)
    assert done.returncode == 0, done.stderr.decode()[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "port"), [("voxel_only", DDP_PORT + 1), ("image_only", DDP_PORT + 2)]
)
def test_one_branch_modes_train_under_ddp(data_dir: Path, tmp_path: Path, mode: str, port: int):
    """The unused encoder is not built, so DDP finds a gradient for every parameter."""
    overrides = ["train.max_steps=1", "data.batch_size=2", "train.accelerator=cpu",
                 f"model.mode={mode}", "train.precision=32-true"]  # fmt: skip
    _run_ddp(data_dir, tmp_path / mode, overrides, tmp_path, port)
    weights = read_checkpoint(last_checkpoint(tmp_path / mode))["model"]
    unused = "image_encoder." if mode == "voxel_only" else "voxel_encoder."
    assert weights and not any(name.startswith(unused) for name in weights)


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(data_dir: Path, tmp_path: Path):
    """Fair check: PyTorch's SyncBatchNorm runs only on
    GPUs, so on CPU each process normalizes its own half batch. The reference is one
    process computing the same two half batches with the same switch/noise generator state
    and averaging their gradients, as DDP does. It uses one thread like each torchrun
    process (OMP_NUM_THREADS=1): BatchNorm over 2 near-identical shapes is so
    ill-conditioned that a different reduction order visibly changes step 2."""
    overrides = [
        "train.epochs=1", "train.max_steps=2", "optim.name=sgd", "optim.lr=1e-4",
        "data.batch_size=2", "loss.kl_max_weight=0", "train.accelerator=cpu",
        "train.precision=32-true",
    ]  # fmt: skip
    run_dir = tmp_path / "ddp"
    _run_ddp(data_dir, run_dir, overrides, tmp_path, DDP_PORT)
    ddp = read_checkpoint(last_checkpoint(run_dir))
    assert ddp["step"] == 2 and ddp["config"]["train"]["devices"] == 2

    config = load_config("tiny", overrides=overrides)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = _emulate_ddp(config, data_dir, 2, world=2)
    finally:
        torch.set_num_threads(threads)
    initial = build_model(config, 1).state_dict()
    for name, value in expected.items():
        torch.testing.assert_close(ddp["model"][name], value, rtol=1e-5, atol=1e-7)
    moved = [(ddp["model"][n] - initial[n]).abs().max() for n in expected]
    assert max(moved) > 1e-2  # the check is not vacuous: training moved the weights


def test_sampler_shards_the_same_global_batches():
    one = list(EpochSampler(10, 4, seed=3, rank=0, world_size=1, epoch=2))
    halves = [list(EpochSampler(10, 2, seed=3, rank=r, world_size=2, epoch=2)) for r in (0, 1)]
    assert one[:2] + one[4:6] == halves[0] and one[2:4] + one[6:8] == halves[1]
    resumed = list(EpochSampler(10, 4, seed=3, epoch=2, start_batch=1))
    assert resumed == one[4:]
    assert list(EpochSampler(10, 4, seed=3, epoch=3)) != one


def test_schedules():
    config = load_config("cpu").optim
    factor = lr_factor(config, total_steps=100, steps_per_epoch=10)
    assert factor(0) == pytest.approx(1 / config.warmup_steps)
    assert factor(config.warmup_steps) == pytest.approx(1.0)
    assert factor(100) == pytest.approx(config.min_lr_ratio)
    assert paper_factor(99) == 1.0 and paper_factor(110) == pytest.approx(0.96)
    paper = lr_factor(load_config("paper").optim, total_steps=10_000, steps_per_epoch=5)
    assert paper(5 * 120) == pytest.approx(0.96**2)
    with pytest.raises(ConfigError, match="full batch"):
        lr_factor(config, total_steps=0, steps_per_epoch=0)
