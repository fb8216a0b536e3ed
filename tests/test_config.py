"""Run configuration: presets, YAML and --set overrides, errors that name the key."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from switchvae.cli.fit import add_fit_arguments, resolve_config
from switchvae.config import (
    PRESETS,
    Config,
    config_from_dict,
    config_to_dict,
    config_to_yaml,
    load_config,
    read_config_file,
    with_overrides,
)
from switchvae.errors import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_load_and_round_trip(name: str):
    config = load_config(name)
    assert isinstance(config, Config)
    assert config == PRESETS[name]()
    assert config_from_dict(config_to_dict(config)) == config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_example_yaml_files_match_the_presets(name: str):
    assert read_config_file(CONFIGS_DIR / f"{name}.yaml") == PRESETS[name]()


def test_preset_values():
    paper = load_config("paper")
    assert paper.model.latent_dim == 128 and paper.model.aggregation == "gru"
    assert paper.model.p_voxel == 0.8 and not paper.model.per_sample
    assert (paper.optim.name, paper.optim.lr, paper.optim.nesterov) == ("sgd", 1e-4, True)
    assert paper.optim.schedule == "paper" and paper.data.num_views == 8
    cpu = load_config("cpu")
    assert cpu.train.precision == "auto" and cpu.train.channels_last
    tiny = load_config("tiny")
    assert tiny.train.precision == "auto" and tiny.data.batch_size == 4
    assert paper.train.precision == "auto"
    # the public code: batch 8, 400 epochs, flattened image head, alignment on samples
    assert (paper.data.batch_size, paper.train.epochs) == (8, 400)
    assert (paper.model.image_head, paper.loss.align_on) == ("flatten", "sample")


def test_yaml_then_overrides(tmp_path: Path):
    file = tmp_path / "mine.yaml"
    file.write_text("model:\n  latent_dim: 32\noptim:\n  lr: 0.01\n")
    config = load_config(
        "tiny", file, ["optim.lr=0.5", "train.max_steps=7", "model.mode=voxel_only"]
    )
    assert config.model.latent_dim == 32  # from the file
    assert config.optim.lr == 0.5  # --set wins over the file
    assert config.train.max_steps == 7 and config.model.mode == "voxel_only"
    assert config.data == load_config("tiny").data  # untouched sections keep the preset


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.latent_dimm=3", "model.latent_dimm"),  # unknown key
        ("modle.latent_dim=3", "modle"),  # unknown section
        ("model.latent_dim=big", "model.latent_dim"),  # wrong type
        ("train.channels_last=maybe", "train.channels_last"),  # wrong type
        ("model.latent_dim=0", "model.latent_dim"),  # invalid value
        ("optim.name=adam", "optim.name"),  # invalid choice
        ("loss.align=l1", "loss.align"),  # invalid choice (model/loss section)
        ("train.precision=16-true", "train.precision"),
        ("data.batch_size=-1", "data.batch_size"),
        ("data.batch_size=1", "data.batch_size"),
    ],
)
def test_bad_settings_name_the_key(override: str, key: str):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config("tiny", overrides=[override])


def test_bad_files_and_override_syntax(tmp_path: Path):
    with pytest.raises(ConfigError, match="key=value"):
        load_config("tiny", overrides=["model.latent_dim"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("tiny", tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {latent_dim: 8\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_config("tiny", bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"train\.epoch"):
        load_config("tiny", typo)
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config("huge")


def test_with_overrides_validates():
    config = with_overrides(load_config("tiny"), train={"devices": 2})
    assert config.train.devices == 2
    with pytest.raises(ConfigError, match=r"train\.devices"):
        with_overrides(config, train={"devices": 0})
    with pytest.raises(ConfigError, match=r"train\.devies"):
        with_overrides(config, train={"devies": 2})


def test_yaml_text_reads_back(tmp_path: Path):
    config = load_config("cpu", overrides=["model.imagenet_weights=/w.pth"])
    path = tmp_path / "config.yaml"
    path.write_text(config_to_yaml(config))
    assert read_config_file(path) == config


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_fit_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_options_become_settings(tmp_path: Path):
    args = _parse("--data", "d", "--out", str(tmp_path / "run"), "--devices", "2",
                  "--set", "model.latent_dim=24", "--accelerator", "cpu")  # fmt: skip
    config = resolve_config(args)
    assert config.train.devices == 2 and config.train.accelerator == "cpu"
    assert config.model.latent_dim == 24 and config.data == load_config("cpu").data


def test_resume_without_preset_uses_the_runs_config(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    saved = load_config("tiny", overrides=["model.latent_dim=12"])
    (run / "config.yaml").write_text(config_to_yaml(saved))
    args = _parse("--data", "d", "--out", str(run), "--resume", "--set", "data.num_workers=1")
    config = resolve_config(args)
    assert config.model.latent_dim == 12 and config.data.num_workers == 1
    assert resolve_config(
        _parse("--data", "d", "--out", str(run), "--preset", "cpu")
    ) == load_config("cpu")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.latent_dim=0", "model.latent_dim: must be an integer >= 1, got 0"),
        ("model.p_voxel=1.5", "model.p_voxel: must be a number in [0, 1], got 1.5"),
        ("loss.temperature=0", "loss.temperature: must be a number > 0, got 0.0"),
        ("data.batch_size=1", "data.batch_size: must be an integer >= 2, got 1"),
        ("optim.min_lr_ratio=2.0", "optim.min_lr_ratio: must be a number in [0, 1], got 2.0"),
        ("train.accelerator=tpu", "train.accelerator: must be one of auto, cpu, gpu; got 'tpu'"),
    ],
)
def test_every_section_speaks_one_validation_vocabulary(override: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_config("tiny", overrides=[override])
    assert str(caught.value) == message


def test_check_compatible_names_the_setting_to_change():
    from switchvae.data.store.manifest import Manifest
    from switchvae.errors import DataError
    from switchvae.run import check_compatible

    fields = {"resolution": 16, "num_views": 2, "image_size": 32, "channels": 4}
    manifest = Manifest.from_dict({"classes": ["a"], "splits": {}, **fields})
    model = load_config("tiny").model  # 32³ grids, gray views
    with pytest.raises(DataError, match=r"16³ grids .* set model\.voxel_resolution=16"):
        check_compatible(model, manifest, "data")
    model = with_overrides(load_config("tiny"), model={"voxel_resolution": 16}).model
    with pytest.raises(DataError, match="stores 3-channel views .* model.image_channels=3"):
        check_compatible(model, manifest, "data")  # RGBA is read as RGB
    voxel_only = with_overrides(
        load_config("tiny"), model={"voxel_resolution": 16, "mode": "voxel_only"}
    )
    check_compatible(voxel_only.model, manifest, "data")  # no image branch: channels are moot
    with pytest.raises(DataError, match=r"stores 2 views per shape; set data\.num_views=2"):
        check_compatible(voxel_only.model, manifest, "data", num_views=3)
