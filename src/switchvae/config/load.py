"""Loading a :class:`~switchvae.config.presets.Config`: preset, YAML file, ``key=value`` overrides.

:func:`load_config` starts from a preset, merges an optional YAML file, then ``key=value``
overrides. OmegaConf structured configs check keys and types; each section's
``__post_init__`` checks values (:mod:`switchvae.config.check`). Every problem raises
:class:`ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from switchvae.config.presets import PRESETS, SECTIONS, Config
from switchvae.errors import ConfigError


def _as_sections(node: Any) -> Config:
    """Turn a merged OmegaConf node into frozen dataclasses, prefixing errors with the section."""
    values = OmegaConf.to_container(node, resolve=True)
    sections = {}
    for name, cls in SECTIONS.items():
        try:
            sections[name] = cls(**values[name])
        except ConfigError as err:
            raise ConfigError(f"{name}.{err}") from None
    return Config(**sections)


def _omegaconf_error(err: OmegaConfBaseException, where: str) -> ConfigError:
    key = getattr(err, "full_key", None) or "?"
    reason = str(err).splitlines()[0]
    known = ", ".join(SECTIONS)
    return ConfigError(f"{key}: {reason} (in {where}; sections: {known})")


def _parse_overrides(overrides: Sequence[str]) -> Any:
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected key=value, e.g. model.latent_dim=64")
    try:
        node = OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as err:
        raise _omegaconf_error(err, "--set overrides") from None
    _refuse_interpolation(node, "--set overrides")
    return node


def _leaves(values: Any, prefix: str = "") -> Any:
    """(dotted key, value) of every leaf of nested dicts and lists."""
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _leaves(value, f"{prefix}{key}.")
    elif isinstance(values, list):
        for index, value in enumerate(values):
            yield from _leaves(value, f"{prefix}{index}.")
    else:
        yield prefix.rstrip("."), values


def _refuse_interpolation(node: Any, where: str) -> None:
    """ConfigError if a value is an interpolation such as ``${oc.env:HOME}``: it is off for
    user input, as it would resolve at load time (a resolver can read any environment
    variable) and copy the result into the run's saved config and its checkpoints."""
    for key, value in _leaves(OmegaConf.to_container(node, resolve=False)):
        if isinstance(value, str) and "${" in value:
            raise ConfigError(
                f"{key}: {value!r} is an interpolation, which is not allowed (in {where}); "
                "write the value itself"
            )


def _read_yaml(path: Path) -> Any:
    """A user's YAML file as a DictConfig: a mapping of sections, no interpolation."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        node = OmegaConf.load(path)
    except Exception as err:  # yaml.YAMLError and OmegaConf errors have no common base
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"config file {path}: not valid YAML ({reason})") from None
    if not isinstance(node, DictConfig):
        kind = "a list" if OmegaConf.is_list(node) else type(node).__name__
        raise ConfigError(
            f"config file {path}: expected a mapping of sections ({', '.join(SECTIONS)}) "
            f"at the top level, got {kind}"
        )
    for name, section in OmegaConf.to_container(node, resolve=False).items():
        if name not in SECTIONS:
            known = ", ".join(SECTIONS)
            raise ConfigError(f"config file {path}: unknown section {name!r} (sections: {known})")
        if section is not None and not isinstance(section, dict):
            raise ConfigError(
                f"config file {path}: {name} must be a mapping of keys, e.g. '{name}: {{key: value}}'"
            )
    _refuse_interpolation(node, f"config file {path}")
    return node


def load_config(
    preset: str = "cpu",
    file: str | Path | None = None,
    overrides: Sequence[str] = (),
    base: Config | None = None,
) -> Config:
    """Build a :class:`Config`: preset, then a YAML file, then ``key=value`` overrides.

    Args:
        preset: one of :data:`PRESETS`.
        base: start from this config instead of the preset (e.g. a run's saved config).
        file: optional YAML file with any subset of the keys (e.g. ``configs/cpu.yaml``).
        overrides: dotted ``section.key=value`` strings, applied last.
    Raises:
        ConfigError: unknown preset, unreadable file, unknown key, wrong type or bad value.
    """
    if base is None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    merged = OmegaConf.structured(base if base is not None else PRESETS[preset]())
    OmegaConf.set_readonly(merged, False)
    layers = []
    if file is not None:
        layers.append((_read_yaml(Path(file)), str(file)))
    if overrides:
        layers.append((_parse_overrides(overrides), "--set overrides"))
    for layer, where in layers:
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as err:
            raise _omegaconf_error(err, where) from None
    return _as_sections(merged)


def config_to_dict(config: Config) -> dict[str, dict[str, Any]]:
    """Plain nested dict (only str/int/float/bool/None): for checkpoints and YAML."""
    return asdict(config)


def config_from_dict(values: dict[str, Any]) -> Config:
    """Inverse of :func:`config_to_dict`; missing keys take the dataclass defaults.

    Raises:
        ConfigError: unknown key, wrong type or invalid value.
    """
    merged = OmegaConf.structured(Config())
    OmegaConf.set_readonly(merged, False)
    try:
        saved = OmegaConf.create(values)
        _refuse_interpolation(saved, "saved config")
        merged = OmegaConf.merge(merged, saved)
    except OmegaConfBaseException as err:
        raise _omegaconf_error(err, "saved config") from None
    return _as_sections(merged)


def read_config_file(path: str | Path) -> Config:
    """A whole :class:`Config` from a YAML file such as ``RUN/config.yaml``."""
    values = OmegaConf.to_container(_read_yaml(Path(path)), resolve=True)
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path}: expected a mapping of sections")
    return config_from_dict(values)


def config_to_yaml(config: Config) -> str:
    """YAML text of the whole configuration (what ``RUN/config.yaml`` holds)."""
    return OmegaConf.to_yaml(OmegaConf.create(config_to_dict(config)))


def with_overrides(config: Config, **sections: dict[str, Any]) -> Config:
    """Copy of ``config`` with some fields of some sections replaced, validated.

    Example: ``with_overrides(cfg, train={"devices": 2})``.
    """
    updates = {}
    for name, changes in sections.items():
        if name not in SECTIONS:
            raise ConfigError(f"unknown config section {name!r}; sections: {', '.join(SECTIONS)}")
        known = {f.name for f in fields(SECTIONS[name])}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"{name}.{sorted(unknown)[0]}: unknown key in section {name}")
        try:
            updates[name] = replace(getattr(config, name), **changes)
        except ConfigError as err:
            raise ConfigError(f"{name}.{err}") from None
    return replace(config, **updates)
