"""Training checkpoints: what they hold, atomic writing, and RNG states as plain tensors.

A checkpoint is one ``torch.save`` file that loads with ``torch.load(weights_only=True)``
(only tensors, dicts, lists, numbers, strings and None). Top-level keys::

    format, format_version, package_version
    model_config   plain dict    -> SwitchVAE.from_checkpoint reads these two directly
    model          state_dict
    config         the resolved run Config as a plain dict
    optimizer, scheduler          state dicts
    rng            {torch, numpy, python, switch, data_order}: generator states as tensors
    step, epoch, batch_in_epoch   progress: optimizer steps done; position in the epoch
    losses         the last logged loss terms (floats)

The data order is a generator seeded by (seed, epoch) at each epoch start; its state at
the start of the current epoch is saved (``rng.data_order``) and, on resume, checked
against the regenerated one, so a change of seeding scheme cannot silently change the
order. ``batch_in_epoch`` says how many of the epoch's batches are done.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from switchvae import __version__
from switchvae.atomic import atomic_write
from switchvae.errors import ConfigError
from switchvae.model.pretrained import load_weights_only
from switchvae.run import Run

CHECKPOINT_FORMAT = "switchvae-checkpoint"
CHECKPOINT_VERSION = 1
TEMP_SUFFIX = ".tmp"

log = logging.getLogger(__name__)

# Settings that may change on resume without changing the result.
RESUME_MAY_CHANGE = {
    ("data", "num_workers"),
    ("train", "log_every_steps"),
    ("train", "checkpoint_every_steps"),
    ("train", "keep_step_checkpoints"),
    ("train", "val_every_epochs"),
}


def last_checkpoint(run_dir: str | Path) -> Path:
    """``RUN/checkpoints/last.pt`` (it may not exist yet); see :class:`switchvae.run.Run`."""
    return Run(run_dir).last_checkpoint


def has_checkpoints(run_dir: str | Path) -> bool:
    """True when ``RUN/checkpoints`` holds any finished ``*.pt`` file."""
    return Run(run_dir).has_checkpoints()


def capture_rng_states(
    switch_generator: torch.Generator, data_order: torch.Generator
) -> dict[str, Any]:
    """Every random state a training step reads, as weights-only-loadable values.

    Args:
        switch_generator: the switch/noise generator, now.
        data_order: the data-order generator as it was at the start of this epoch.
    Returns:
        ``{"torch", "switch", "data_order": uint8 tensors, "numpy": {...}, "python": {...}}``.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
        "switch": switch_generator.get_state(),
        "data_order": data_order.get_state(),
    }


def restore_rng_states(
    states: dict[str, Any], switch_generator: torch.Generator, data_order: torch.Generator
) -> None:
    """Inverse of :func:`capture_rng_states`.

    Raises:
        ConfigError: ``data_order`` (regenerated from seed and epoch) differs from the saved
            state: this package orders data differently from the one that wrote the run.
    """
    if not torch.equal(states["data_order"], data_order.get_state()):
        raise ConfigError(
            "the saved data order differs from this package's; resume with the package "
            "version that started the run"
        )
    torch.set_rng_state(states["torch"])
    numpy_state = states["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = states["python"]
    random.setstate(
        (
            python_state["version"],
            tuple(int(v) for v in python_state["state"].tolist()),
            python_state["gauss_next"],
        )
    )
    switch_generator.set_state(states["switch"])


def save_atomically(fabric: Any, path: Path, state: dict[str, Any]) -> None:
    """``fabric.save`` into ``path + .tmp``, then rename over ``path`` (rank 0 renames).

    A reader never sees a half-written file: ``os.replace`` is atomic on one file system.
    Must be called on every process (``fabric.save`` synchronizes them).
    """
    temp = path.with_name(path.name + TEMP_SUFFIX)
    if fabric.is_global_zero:
        path.parent.mkdir(parents=True, exist_ok=True)
    fabric.save(temp, state)
    if fabric.is_global_zero:
        os.replace(temp, path)
    fabric.barrier()


def copy_atomically(source: Path, target: Path) -> None:
    """Copy a finished checkpoint to another name, atomically (rank 0 only)."""
    with atomic_write(target) as temp:
        shutil.copyfile(source, temp)


MODEL_FILE_DTYPE = torch.float16  # half the size; outputs measured in docs/architecture.md


def write_model_file(
    checkpoint: str | Path, out: str | Path, dtype: torch.dtype = MODEL_FILE_DTYPE
) -> Path:
    """Write the lean model file (weights + model config, safetensors) of ``checkpoint``.

    See :mod:`switchvae.model.pretrained`. ``dtype``: how floating weights are stored; the
    default float16 halves the file (76 -> 38 MB for a ModelNet10 recipe model) and
    is loaded back as float32. Returns ``out``.
    """
    from switchvae.model.pretrained import save_pretrained
    from switchvae.model.switchvae import SwitchVAE

    return save_pretrained(SwitchVAE.from_checkpoint(checkpoint), out, dtype)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` and check its format.

    Raises:
        ConfigError: missing, unreadable, or not a switchvae training checkpoint.
    """
    payload = load_weights_only(path)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path}: not a switchvae training checkpoint")
    if payload.get("format_version") != CHECKPOINT_VERSION:
        raise ConfigError(
            f"{path}: checkpoint format version {payload.get('format_version')} is not "
            f"supported (this package reads version {CHECKPOINT_VERSION})"
        )
    return payload


def checkpoint_header() -> dict[str, Any]:
    """The format keys every training checkpoint starts with."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "package_version": __version__,
    }


def check_resumable(saved: dict[str, Any], config: Any, path: Path) -> None:
    """Refuse to resume the checkpoint ``path`` (its saved config ``saved``) under a
    ``config`` that changes a setting outside :data:`RESUME_MAY_CHANGE`."""
    from switchvae.config import config_to_dict

    current = config_to_dict(config)
    changed = [
        f"{section}.{key}"
        for section, values in current.items()
        for key, value in values.items()
        if (section, key) not in RESUME_MAY_CHANGE
        and saved.get(section, {}).get(key, value) != value
    ]
    if changed:
        raise ConfigError(
            f"cannot resume {path} with other settings ({', '.join(changed)}); resume with the "
            "run's own config (RUN/config.yaml) or start another --out"
        )
