"""The lean model file: weights and model config only, as safetensors.

A training checkpoint (``RUN/checkpoints/last.pt``) carries the optimizer state, RNG
states and the run config so that training can resume; to share or deploy a trained model
only the weights and the :class:`~switchvae.config.model.ModelConfig` are needed. The
model file holds exactly these: the state dict as safetensors tensors and, in the file's
metadata (string -> string), ``format``, ``format_version``, ``package_version`` and
``model_config`` (JSON). ``fit`` writes ``RUN/model.safetensors`` (:attr:`switchvae.run.Run.model_file`) at its end;
``switchvae export-model RUN --out FILE`` writes one from a run's checkpoint;
:meth:`SwitchVAE.from_pretrained <switchvae.model.switchvae.SwitchVAE.from_pretrained>` reads it.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from switchvae import __version__
from switchvae.atomic import atomic_write
from switchvae.config.model import ModelConfig
from switchvae.errors import ConfigError

log = logging.getLogger(__name__)

MODEL_FORMAT = "switchvae-model"
MODEL_FORMAT_VERSION = "1"


def save_pretrained(model: nn.Module, path: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write a SwitchVAE's weights and ``model.config`` to ``path`` (safetensors), atomically.

    Tensors are stored contiguous and on the CPU; tensors that share memory are stored once
    (safetensors' ``save_model`` records the aliases in the metadata). ``dtype`` stores the
    floating tensors in a smaller type (``torch.float16``/``torch.bfloat16``: half the file;
    :func:`load_weights` casts them back into the float32 model); counters stay integers.

    Returns:
        ``path``.
    """
    from safetensors.torch import save_model

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "package_version": __version__,
        "model_config": json.dumps(asdict(model.config), sort_keys=True),
        "dtype": str(dtype).removeprefix("torch."),
    }
    stored = model.to("cpu") if dtype == torch.float32 else copy.deepcopy(model).to("cpu", dtype)
    with atomic_write(path) as temp:
        save_model(stored, str(temp), metadata=metadata)
    return path


def checkpoint_parts(payload: Any, path: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """(model config, state dict) of a loaded checkpoint ``payload`` read from ``path``.

    Raises:
        ConfigError: the payload lacks ``model_config``/``model`` or the config is invalid.
    """
    try:
        return ModelConfig(**payload["model_config"]), payload["model"]
    except ConfigError:
        raise
    except Exception as error:  # missing key, bad config
        raise ConfigError(f"{path} is not a usable SwitchVAE checkpoint: {error}") from error


def read_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """(model config, state dict) of a training checkpoint (``torch.save`` of a dict with
    ``model_config`` and ``model``), read with ``weights_only=True``.

    Raises:
        ConfigError: the file is missing, unreadable or not a SwitchVAE checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unreadable file
        raise ConfigError(f"{path} is not a usable SwitchVAE checkpoint: {error}") from error
    return checkpoint_parts(payload, path)


def read_model_config(path: str | Path) -> ModelConfig:
    """The :class:`ModelConfig` stored in a model file's metadata (no tensor is read)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata: dict[str, Any] = handle.metadata() or {}
    except Exception as error:  # not a safetensors file, truncated, ...
        raise ConfigError(f"{path} is not a safetensors model file: {error}") from None
    if metadata.get("format") != MODEL_FORMAT or "model_config" not in metadata:
        raise ConfigError(f"{path} is a safetensors file but not a SwitchVAE model file")
    try:
        return ModelConfig(**json.loads(metadata["model_config"]))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: unusable model_config in the metadata: {error}") from None


def load_weights(model: nn.Module, path: str | Path, device: str | torch.device = "cpu") -> None:
    """Load a model file's tensors into ``model`` (built from :func:`read_model_config`).

    Raises:
        ConfigError: missing or mismatched tensors.
    """
    from safetensors.torch import load_model

    try:
        load_model(model, str(path), strict=True, device=str(device))
    except Exception as error:  # missing or mismatched tensors
        raise ConfigError(f"{path}: weights do not fit the stored model config: {error}") from None


def load_weights_only(path: str | Path, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with a one-line error.

    Args:
        path: the checkpoint file.
        mmap: memory-map the tensors (only small entries are then read); falls back to
            a normal load for an old-style (non-zip) file.
    Raises:
        ConfigError: missing, or unreadable (truncated, corrupt, not a ``torch.save`` file,
            or holding objects other than tensors and plain values). torch's own
            explanation, several lines long, is logged at debug level (``--verbose``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, pickle error, unsupported object
        log.debug("torch.load(%s) failed:\n%s", path, err)
        raise ConfigError(
            f"{path}: unreadable checkpoint ({type(err).__name__}): truncated, corrupt or "
            "not written by switchvae (details with --verbose)"
        ) from None


class ModelFiles:
    """Reading and writing a model's files; :class:`~switchvae.model.switchvae.SwitchVAE`
    inherits these (``cls(config, load_pretrained=False)`` builds the model)."""

    config: ModelConfig

    def checkpoint_payload(self) -> dict:
        """``{"model_config": plain dict, "model": state_dict}``, what :meth:`from_checkpoint`
        reads (the training engine adds its own keys beside these)."""
        return {"model_config": asdict(self.config), "model": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Any:
        """Rebuild a model from a file holding :meth:`checkpoint_payload`'s keys (or a model file).

        Args:
            path: checkpoint file (``torch.save`` of a dict with ``model_config`` and ``model``);
                a ``.safetensors`` model file is read by :meth:`from_pretrained`.
            map_location: where to load the tensors.

        Returns:
            The model, in eval mode.

        Raises:
            ConfigError: the file is missing, unreadable or not a SwitchVAE checkpoint.
        """
        if Path(path).suffix == ".safetensors":
            return cls.from_pretrained(path, map_location)
        return cls.from_state(*read_checkpoint(path, map_location), source=path)

    @classmethod
    def from_state(cls, config: ModelConfig, state: dict, source: str | Path = "") -> Any:
        """A model (eval mode) of ``config`` holding the weights ``state``; ConfigError naming
        ``source`` when they do not fit."""
        model = cls(config, load_pretrained=False)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:  # mismatched weights
            raise ConfigError(f"{source} is not a usable SwitchVAE checkpoint: {error}") from error
        return model.eval()

    @classmethod
    def from_pretrained(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Any:
        """Rebuild a model from a model file (``model.safetensors``: weights + model config,
        see :mod:`switchvae.model.pretrained`), in eval mode; raises ConfigError if unusable."""
        model = cls(read_model_config(path), load_pretrained=False)
        load_weights(model, path, map_location)
        return model.to(map_location).eval()
