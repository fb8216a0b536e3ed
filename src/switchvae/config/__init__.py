"""Every setting of a run, in one package with one validation vocabulary.

* :mod:`.check`: the validators every section uses (``<field>: must be ..., got ...``).
* :mod:`.model`: :class:`ModelConfig` and :class:`LossConfig` (the model's; also importable
  from ``switchvae.model.config``).
* :mod:`.training`: :class:`DataConfig`, :class:`OptimConfig`, :class:`TrainConfig`.
* :mod:`.presets`: :class:`Config` (the five sections; saved in every checkpoint and as
  ``RUN/config.yaml``) and the presets tiny | cpu | paper.
* :mod:`.load`: :func:`load_config` (preset, then YAML file, then ``key=value`` overrides),
  to and from dicts and YAML.

Whether a model takes a prepared dataset is :func:`switchvae.run.check_compatible`.
"""

from switchvae.config.load import (
    config_from_dict,
    config_to_dict,
    config_to_yaml,
    load_config,
    read_config_file,
    with_overrides,
)
from switchvae.config.model import LossConfig, ModelConfig
from switchvae.config.presets import (
    PRESETS,
    SECTIONS,
    Config,
    cpu_preset,
    paper_preset,
    tiny_preset,
)
from switchvae.config.training import (
    ACCELERATORS,
    PRECISIONS,
    DataConfig,
    OptimConfig,
    TrainConfig,
)

__all__ = [
    "ACCELERATORS",
    "PRECISIONS",
    "PRESETS",
    "SECTIONS",
    "Config",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "config_to_yaml",
    "cpu_preset",
    "load_config",
    "paper_preset",
    "read_config_file",
    "tiny_preset",
    "with_overrides",
]
