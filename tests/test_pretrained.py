"""The lean model file: weights + model config as safetensors, read by from_pretrained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from switchvae.cli import main
from switchvae.errors import ConfigError
from switchvae.model.config import ModelConfig
from switchvae.model.pretrained import MODEL_FORMAT, read_model_config, save_pretrained
from switchvae.model.switchvae import SwitchVAE
from switchvae.train.checkpoint import last_checkpoint

CONFIG = ModelConfig(latent_dim=8, image_feature_dim=16, image_channels=1, aggregation="max")


def _trained_like_model() -> SwitchVAE:
    model = SwitchVAE(CONFIG)
    g = torch.Generator().manual_seed(0)
    voxels = (torch.rand(2, 1, 32, 32, 32, generator=g) > 0.7).float()
    views = torch.rand(2, 2, 1, 32, 32, generator=g)
    with torch.no_grad():
        model(voxels, views, torch.Generator().manual_seed(1))  # BN running stats move
    return model.eval()


def _assert_same(a: SwitchVAE, b: SwitchVAE) -> None:
    assert a.config == b.config and not b.training
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_model_file_round_trip(tmp_path: Path) -> None:
    model = _trained_like_model()
    path = save_pretrained(model, tmp_path / "model.safetensors")
    _assert_same(model, SwitchVAE.from_pretrained(path))
    _assert_same(model, SwitchVAE.from_checkpoint(path))  # a model file is accepted too
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == MODEL_FORMAT
    assert json.loads(metadata["model_config"])["latent_dim"] == 8
    assert read_model_config(path) == CONFIG
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary left


def test_bad_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        SwitchVAE.from_pretrained(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="junk.safetensors"):
        SwitchVAE.from_pretrained(junk)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ConfigError, match="not a SwitchVAE model file"):
        SwitchVAE.from_pretrained(other)


def test_export_model_command(tmp_path: Path, capsys) -> None:
    model = _trained_like_model()
    checkpoint = last_checkpoint(tmp_path / "run")
    checkpoint.parent.mkdir(parents=True)
    torch.save({**model.checkpoint_payload(), "optimizer": {"big": torch.zeros(1000)}}, checkpoint)
    out = tmp_path / "shared" / "model.safetensors"
    assert (
        main(["export-model", str(tmp_path / "run"), "--out", str(out), "--dtype", "float32"]) == 0
    )
    assert str(out) in capsys.readouterr().out
    _assert_same(model, SwitchVAE.from_pretrained(out))
    half = tmp_path / "half.safetensors"  # the default: float16
    assert main(["export-model", str(tmp_path / "run"), "--out", str(half)]) == 0
    with safe_open(str(half), framework="pt") as handle:
        assert handle.metadata()["dtype"] == "float16"
    assert half.stat().st_size < 0.6 * out.stat().st_size
    assert out.stat().st_size < checkpoint.stat().st_size
    assert main(["export-model", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_half_precision_model_file(tmp_path: Path) -> None:
    model = _trained_like_model()
    full = save_pretrained(model, tmp_path / "full.safetensors")
    half = save_pretrained(model, tmp_path / "half.safetensors", torch.bfloat16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = SwitchVAE.from_pretrained(half)
    for name, value in loaded.state_dict().items():
        expected = model.state_dict()[name]
        assert value.dtype == expected.dtype
        if value.is_floating_point():
            torch.testing.assert_close(value, expected, rtol=1e-2, atol=1e-2)
        else:
            assert torch.equal(value, expected)
    assert next(model.parameters()).dtype == torch.float32  # the source model is untouched
