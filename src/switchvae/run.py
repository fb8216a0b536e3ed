"""A training run directory and everything in it: :class:`Run`.

Layout (``fit`` writes the first six, ``evaluate`` the metrics, ``report`` the rest)::

    RUN/run.json                 written first: package version, data_dir, precision
    RUN/config.yaml              the resolved run config
    RUN/log.jsonl, RUN/tb/       one JSON object per log step; TensorBoard events
    RUN/checkpoints/last.pt      the resume checkpoint (+ step_XXXXXXX.pt when kept)
    RUN/model.safetensors        weights + model config only, to share
    RUN/.lock                    held while a command writes the run
    RUN/metrics.json             ``switchvae evaluate``
    RUN/report.html, figures/    ``switchvae report``

Every other module asks a :class:`Run` where a file is; the model and the checkpoint's
small entries are read once per ``Run`` (memory-mapped, so the weights are read only into
the model). Nothing here imports torch until a checkpoint is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switchvae.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch

    from switchvae.config.model import ModelConfig
    from switchvae.data.store.manifest import Manifest
    from switchvae.model.switchvae import SwitchVAE

RUN_INFO_FILE = "run.json"
RUN_CONFIG_FILE = "config.yaml"
LOG_FILE = "log.jsonl"
TENSORBOARD_DIR = "tb"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"
MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
FIGURES_DIR = "figures"


def read_log(path: Path) -> list[dict]:
    """The JSON objects of a ``log.jsonl`` (unreadable lines, e.g. cut by a kill, skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_metrics(path: Path) -> dict | None:
    """``metrics.json`` as a dict, or None when absent or unreadable."""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return metrics if isinstance(metrics, dict) else None


class Run:
    """One run directory: the paths of its files and, read once, its checkpoint and model.

    Args:
        path: the run directory (it need not exist yet: ``fit`` makes it).
        device: where :attr:`model` is put.
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu") -> None:
        self.path = Path(path)
        self.device = device
        self._payload: dict[str, Any] | None = None
        self._model: SwitchVAE | None = None

    @classmethod
    def open(cls, run: str | Path | Run, device: str | torch.device = "cpu") -> Run:
        """``run`` itself when it is a :class:`Run` already, else a new one for the folder."""
        return run if isinstance(run, Run) else cls(run, device)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- where things are ------------------------------------------------------------------

    @property
    def info_file(self) -> Path:
        return self.path / RUN_INFO_FILE

    @property
    def config_file(self) -> Path:
        return self.path / RUN_CONFIG_FILE

    @property
    def log_file(self) -> Path:
        return self.path / LOG_FILE

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD_DIR

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def last_checkpoint(self) -> Path:
        """``RUN/checkpoints/last.pt`` (it may not exist yet)."""
        return self.checkpoint_dir / LAST_CHECKPOINT

    def step_checkpoint(self, step: int) -> Path:
        """``RUN/checkpoints/step_XXXXXXX.pt``."""
        return self.checkpoint_dir / f"step_{step:07d}.pt"

    def has_checkpoints(self) -> bool:
        """Whether ``RUN/checkpoints`` holds any ``.pt`` file."""
        return self.checkpoint_dir.is_dir() and any(self.checkpoint_dir.glob("*.pt"))

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def report_file(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES_DIR

    # -- the small files -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """``run.json`` ({} when absent). Raises ConfigError when it is unreadable."""
        if not self.info_file.is_file():
            return {}
        try:
            info = json.loads(self.info_file.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"{self.info_file}: unreadable ({err})") from err
        if not isinstance(info, dict):
            raise ConfigError(f"{self.info_file}: unreadable (not a JSON object)")
        return info

    def write_info(self, data_dir: str | Path, precision: Any = None) -> None:
        """Write ``run.json`` (``fit`` does first): the dataset and package version, so
        ``evaluate RUN`` needs no --data; and the precision ``train.precision`` resolved to
        on this machine (a :class:`~switchvae.train.precision.PrecisionChoice`), with why."""
        from switchvae import __version__

        info: dict[str, Any] = {
            "data_dir": str(Path(data_dir).resolve()),
            "package_version": __version__,
        }
        if precision is not None:
            info["precision"] = {"resolved": precision.precision, "reason": precision.reason}
        self.info_file.write_text(json.dumps(info, indent=1) + "\n")

    def data_dir(self, given: str | Path | None = None) -> Path:
        """``given``, else ``run.json``'s ``"data_dir"``; ConfigError when neither names one."""
        if given is not None:
            return Path(given)
        recorded = self.info().get("data_dir")
        if recorded:
            return Path(recorded)
        raise ConfigError(f"{self.path}: no data directory recorded; pass --data DIR")

    def find_data_dir(self, given: str | Path | None = None) -> Path | None:
        """As :meth:`data_dir`, then ``metrics.json``'s ``data.dir``; None when nothing names one."""
        try:
            return self.data_dir(given)
        except ConfigError:
            pass
        recorded = (self.metrics() or {}).get("data", {})
        recorded = recorded.get("dir") if isinstance(recorded, dict) else None
        return Path(recorded) if recorded else None

    def log_records(self) -> list[dict]:
        """The records of ``log.jsonl`` ([] when there is no log)."""
        return read_log(self.log_file)

    def metrics(self) -> dict | None:
        """``metrics.json``, or None when absent or unreadable."""
        return read_metrics(self.metrics_file)

    def write_metrics(self, metrics: dict) -> Path:
        """Write ``metrics.json`` atomically; returns its path."""
        from switchvae.atomic import write_text_atomic

        write_text_atomic(self.metrics_file, json.dumps(metrics, indent=1))
        return self.metrics_file

    # -- the checkpoint and the model ------------------------------------------------------

    def _checkpoint(self) -> dict[str, Any]:
        """``last.pt`` read once, memory-mapped. Raises ConfigError when missing/unreadable."""
        if self._payload is None:
            from switchvae.model.pretrained import load_weights_only

            payload = load_weights_only(self.last_checkpoint, mmap=True)
            if not isinstance(payload, dict):
                raise ConfigError(f"{self.last_checkpoint} is not a usable SwitchVAE checkpoint")
            self._payload = payload
        return self._payload

    def checkpoint_info(self) -> dict[str, Any]:
        """The checkpoint's step, epoch and package version; {} when there is none readable."""
        try:
            payload = self._checkpoint()
        except ConfigError:
            return {}
        return {k: payload[k] for k in ("step", "epoch", "package_version") if k in payload}

    @property
    def config(self) -> dict | None:
        """The resolved run config (plain dict) saved in the checkpoint; None for a bare one."""
        config = self._checkpoint().get("config")
        return config if isinstance(config, dict) else None

    @property
    def model(self) -> SwitchVAE:
        """The checkpoint's model in eval mode on :attr:`device`, loaded on first use."""
        if self._model is None:
            from switchvae.model.pretrained import checkpoint_parts
            from switchvae.model.switchvae import SwitchVAE

            config, state = checkpoint_parts(self._checkpoint(), self.last_checkpoint)
            model = SwitchVAE.from_state(config, state, self.last_checkpoint)
            self._model = model.to(self.device)
        return self._model

    def save_bare(self, payload: dict[str, Any] | None, data_dir: str | Path) -> None:
        """Write a bare run (no training): ``last.pt`` holding ``payload`` (a model's
        ``checkpoint_payload()`` plus its ``config``; None keeps the one there) and a
        ``run.json`` naming the data."""
        if payload is not None:
            import torch

            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            torch.save(payload, self.last_checkpoint)
        self.info_file.write_text(json.dumps({"data_dir": str(Path(data_dir).resolve())}))
        self._payload = self._model = None


def check_compatible(
    model_config: ModelConfig, manifest: Manifest, data_dir: str | Path, num_views: int = 1
) -> None:
    """The one answer to "does this model take this dataset" (``fit``, ``evaluate``, analysis).

    Args:
        model_config: the model's :class:`~switchvae.config.model.ModelConfig`.
        manifest: the dataset's :class:`~switchvae.data.store.manifest.Manifest`.
        data_dir: the dataset folder (for the message).
        num_views: views per sample the run asks for (``data.num_views`` in training).
    Raises:
        DataError: naming the setting to change: another grid side, or (a model with an
            image branch) another number of view channels (RGBA views count as RGB: the
            alpha is filled when read), or fewer stored views than ``num_views``.
    """
    side, wanted = manifest.resolution, model_config.voxel_resolution
    if side != wanted:
        raise DataError(
            f"{data_dir} has {side}³ grids but model.voxel_resolution={wanted}; set "
            f"model.voxel_resolution={side} or prepare the data with --resolution {wanted}"
        )
    channels = manifest.view_channels or model_config.image_channels
    if model_config.mode != "voxel_only" and channels != model_config.image_channels:
        raise DataError(
            f"{data_dir} stores {channels}-channel views but model.image_channels="
            f"{model_config.image_channels}; set model.image_channels={channels}"
        )
    if num_views > manifest.num_views:
        raise DataError(
            f"data.num_views={num_views} but {data_dir} stores {manifest.num_views} views per "
            f"shape; set data.num_views={manifest.num_views} or less"
        )
