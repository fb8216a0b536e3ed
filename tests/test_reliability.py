"""Each failure of issue 10 reproduced at library level (the CLI table is test_hostile.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchvae.errors import ConfigError


# --- item 10: one-line messages, no silent nonsense values ------------------------------


def test_unreadable_checkpoint_is_one_line(tmp_path: Path):
    from switchvae.train.checkpoint import read_checkpoint

    path = tmp_path / "last.pt"
    path.write_bytes(b"\x80\x02cos\nsystem\n" + bytes(range(256)) * 8)
    with pytest.raises(ConfigError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert "unreadable checkpoint" in message and str(path) in message
    assert len(message.splitlines()) == 1 and "weights_only" not in message


def test_zero_seeds_are_refused():
    from switchvae.evaluate.classify import classify_latents

    z = np.random.default_rng(0).normal(size=(8, 2))
    y = np.arange(8) % 2
    with pytest.raises(ConfigError, match="seeds must be at least 1"):
        classify_latents(z, y, z, y, "linear_svm", seeds=0)
