"""``fit``: assemble a run, resume it, run the epochs, validate, checkpoint.

MAE's ``main_pretrain.py`` role: the parts are built in :mod:`switchvae.train.setup`, the
step and the one-epoch loop live in :mod:`switchvae.train.engine`.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from switchvae.config import Config, config_to_dict, config_to_yaml
from switchvae.errors import ConfigError
from switchvae.locks import hold_lock
from switchvae.model.switchvae import SwitchVAE
from switchvae.run import Run
from switchvae.train import checkpoint as ckpt
from switchvae.train.engine import FieldsOutput, Trainer, kl_weight_at, train_one_epoch
from switchvae.train.loader import EpochSampler, epoch_generator, eval_loader, train_loader
from switchvae.train.rundir import check_run_dir
from switchvae.train.runlog import RunLogger
from switchvae.train.schedule import build_scheduler
from switchvae.train.setup import (
    Datasets,
    build_model,
    build_optimizer,
    choose_precision,
    make_fabric,
    open_datasets,
    switch_generator,
)
from switchvae.train.validate import validate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitResult:
    """What a finished run produced."""

    run_dir: Path
    checkpoint: Path
    step: int
    epoch: int
    losses: dict[str, float]
    val_metrics: dict[str, float] = field(default_factory=dict)
    global_rank: int = 0


@dataclass
class _Run:
    """Everything the epoch loop touches besides the :class:`Trainer`."""

    fabric: Any
    config: Config
    run_dir: Path
    trainer: Trainer
    network: SwitchVAE
    sampler: EpochSampler
    loader: Any
    val_loader: Any
    logger: RunLogger | None = None
    val_metrics: dict[str, float] = field(default_factory=dict)
    val_step: int = -1  # the step whose weights val_metrics describe


def _setup(fabric: Any, config: Config, datasets: Datasets) -> _Run:
    rank, world = fabric.global_rank, fabric.world_size
    sampler = EpochSampler(
        len(datasets.train), config.data.batch_size, config.train.seed, rank, world
    )
    per_epoch = sampler.batches_per_epoch
    if per_epoch < 1:
        raise ConfigError(
            f"the train split has {len(datasets.train)} shapes, fewer than one global batch "
            f"({config.data.batch_size} × {world} processes); lower data.batch_size "
            "(at least 2: BatchNorm) or train on a larger split"
        )
    if config.train.sync_batchnorm and world > 1 and fabric.device.type == "cpu":
        raise ConfigError(
            "train.sync_batchnorm=true needs GPUs (PyTorch's SyncBatchNorm does not run on "
            "CPU); set it to false for CPU processes"
        )
    total = config.train.epochs * per_epoch
    total = min(total, config.train.max_steps or total)
    network = build_model(config, world)
    optimizer = build_optimizer(network, config)
    scheduler = build_scheduler(optimizer, config.optim, total, per_epoch)
    model, optimizer = fabric.setup(FieldsOutput(network), optimizer)
    loader = fabric.setup_dataloaders(
        train_loader(datasets.train, sampler, config.data.num_workers),
        use_distributed_sampler=False,
    )
    val_loader = None
    if datasets.val is not None:
        val = eval_loader(
            datasets.val, config.data.batch_size, config.data.num_workers, rank, world
        )
        val_loader = fabric.setup_dataloaders(val, use_distributed_sampler=False)
    generator = switch_generator(config.train.seed)
    trainer = Trainer(
        fabric,
        model,
        optimizer,
        scheduler,
        generator,
        config.loss,
        config.optim.grad_clip_norm,
        steps_per_epoch=per_epoch,
    )
    return _Run(fabric, config, Path(), trainer, network, sampler, loader, val_loader)


def _data_order(run: _Run) -> torch.Generator:
    """The data-order generator at the start of the trainer's epoch."""
    return epoch_generator(run.config.train.seed, run.trainer.epoch)


def _checkpoint_payload(run: _Run) -> dict[str, Any]:
    state = run.trainer
    return {
        **ckpt.checkpoint_header(),
        "model_config": asdict(run.config.model),
        "model": run.network,
        "config": config_to_dict(run.config),
        "optimizer": state.optimizer,
        "scheduler": state.scheduler,
        "rng": ckpt.capture_rng_states(state.generator, _data_order(run)),
        "step": state.step,
        "epoch": state.epoch,
        "batch_in_epoch": state.batch_in_epoch,
        "losses": dict(state.last),
        "val_metrics": dict(run.val_metrics),
        "val_step": run.val_step,
    }


def _save(run: _Run) -> Path:
    path = Run(run.run_dir).last_checkpoint
    ckpt.save_atomically(run.fabric, path, _checkpoint_payload(run))
    if run.config.train.keep_step_checkpoints and run.fabric.is_global_zero:
        ckpt.copy_atomically(path, Run(run.run_dir).step_checkpoint(run.trainer.step))
    return path


def _resume(run: _Run, config: Config) -> None:
    path = Run(run.run_dir).last_checkpoint
    if not path.is_file():
        log.info("no checkpoint in %s yet; starting from step 0", run.run_dir)
        return
    saved = ckpt.read_checkpoint(path)
    ckpt.check_resumable(saved["config"], config, path)
    state = run.trainer
    objects = {"model": run.network, "optimizer": state.optimizer, "scheduler": state.scheduler}
    run.fabric.load(path, objects, strict=False, weights_only=True)
    state.step, state.epoch = int(saved["step"]), int(saved["epoch"])
    ckpt.restore_rng_states(saved["rng"], state.generator, _data_order(run))
    state.batch_in_epoch, state.last = int(saved["batch_in_epoch"]), dict(saved["losses"])
    run.val_metrics, run.val_step = dict(saved["val_metrics"]), int(saved["val_step"])
    log.info("resumed %s at step %d (epoch %d)", path, state.step, state.epoch + 1)


def _log_train(run: _Run, record: dict[str, float]) -> None:
    fabric = run.fabric
    if fabric.world_size > 1:
        keys = [k for k in record if k.startswith("loss/")]
        values = torch.tensor([record[k] for k in keys], dtype=torch.float64)
        values = fabric.all_reduce(values.to(fabric.device), reduce_op="mean").cpu()
        record.update(zip(keys, values.tolist(), strict=True))
    record["kl_weight"] = kl_weight_at(run.config.loss, run.trainer.fractional_epoch)
    run.logger.write(record)


def _validate(run: _Run) -> None:
    if run.val_loader is None:
        return
    state = run.trainer
    kl_weight = kl_weight_at(run.config.loss, state.epoch)
    run.val_metrics = validate(run.fabric, run.network, run.val_loader, run.config.loss, kl_weight)
    run.val_step = state.step
    run.logger.write({"step": state.step, "epoch": state.epoch, **run.val_metrics})
    log.info("epoch %d validation: %s", state.epoch + 1, run.val_metrics)


def _finished(config: Config, state: Trainer) -> bool:
    max_steps = config.train.max_steps
    return state.epoch >= config.train.epochs or (max_steps is not None and state.step >= max_steps)


def _loop(run: _Run, progress: bool) -> None:
    train, state = run.config.train, run.trainer
    every = (train.log_every_steps, train.checkpoint_every_steps)
    while not _finished(run.config, state):
        run.sampler.epoch, run.sampler.start_batch = state.epoch, state.batch_in_epoch
        train_one_epoch(
            state,
            run.loader,
            every,
            lambda record: _log_train(run, record),
            lambda: _save(run),
            train.max_steps,
            progress,
        )
        if state.batch_in_epoch < state.steps_per_epoch:
            break  # max_steps reached inside the epoch
        last_epoch = state.epoch + 1 == train.epochs
        if (state.epoch + 1) % train.val_every_epochs == 0 or last_epoch:
            _validate(run)
        state.epoch, state.batch_in_epoch = state.epoch + 1, 0
    if run.val_step != state.step:
        _validate(run)


def fit(
    config: Config,
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
) -> FitResult:
    """Train SwitchVAE on a prepared dataset; write checkpoints and logs under ``run_dir``.

    Args:
        config: the run configuration (see :func:`switchvae.config.load_config`).
        data_dir: prepared dataset directory (``switchvae prepare``).
        run_dir: output directory: ``config.yaml``, ``log.jsonl``, ``tb/``, ``checkpoints/``,
            and at the end ``model.safetensors`` (weights + model config, to share).
        resume: continue from ``run_dir/checkpoints/last.pt`` exactly where it stopped.
        progress: show a progress bar per epoch (process 0 only).
    Raises:
        ConfigError: bad settings, an ``run_dir`` that is not a run of this package (see
            :mod:`switchvae.train.rundir`), existing run without ``resume``, incompatible
            resume.
        DataError: another ``fit`` is writing ``run_dir``.
        NonFiniteLossError: a loss became NaN/inf (``last.pt`` keeps the last good step).
    """
    run_dir = Path(run_dir)
    paths = Run(run_dir)
    check_run_dir(run_dir, data_dir, resume)
    datasets = open_datasets(config, data_dir)
    precision = choose_precision(config)
    log.info(
        "precision %s -> %s: %s", config.train.precision, precision.precision, precision.reason
    )
    fabric = make_fabric(config, precision.precision)
    fabric.launch()
    run = _setup(fabric, config, datasets)
    run.run_dir, state = run_dir, run.trainer
    with ExitStack() as held:
        if fabric.is_global_zero:  # one writer per run directory
            run_dir.mkdir(parents=True, exist_ok=True)
            held.enter_context(hold_lock(run_dir, "fit"))
        if resume:
            _resume(run, config)
        if fabric.is_global_zero:  # run.json first: it marks the folder as a run
            paths.write_info(data_dir, precision)
            paths.config_file.write_text(config_to_yaml(config))
        run.logger = RunLogger(run_dir, fabric.is_global_zero, state.step)
        run.logger.write({"step": state.step, "precision": precision.precision})
        start_step = state.step
        try:
            _loop(run, progress)
            # a resumed run that was already finished is left exactly as it was
            finished_before = resume and state.step == start_step
            path = paths.last_checkpoint if finished_before else _save(run)
            model_file = paths.model_file  # weights + model config only, to share
            if fabric.is_global_zero and not (finished_before and model_file.is_file()):
                ckpt.write_model_file(path, model_file)
        finally:
            run.logger.close()
    return FitResult(
        run_dir,
        path,
        state.step,
        state.epoch,
        dict(state.last),
        run.val_metrics,
        fabric.global_rank,
    )
