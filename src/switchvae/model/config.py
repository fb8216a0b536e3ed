"""The model's settings, :class:`ModelConfig` and :class:`LossConfig`.

They live with every other setting in :mod:`switchvae.config.model`; this module keeps the
model package's import path (``from switchvae.model.config import ModelConfig``).
"""

from switchvae.config.model import LossConfig, ModelConfig

__all__ = ["LossConfig", "ModelConfig"]
