"""The one validation vocabulary of the settings.

Every settings dataclass checks its fields in ``__post_init__`` with these functions, so a
bad value always raises :class:`~switchvae.errors.ConfigError` as ``<field>: must be ...,
got <value>`` (:func:`~switchvae.config.load.load_config` prefixes the section).
"""

from __future__ import annotations

from collections.abc import Sequence

from switchvae.errors import ConfigError


def require(ok: bool, key: str, message: str) -> None:
    """ConfigError ``key: message`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}: {message}")


def is_int(value: object) -> bool:
    """An int that is not a bool (YAML ``true`` is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(value: object, key: str, minimum: int = 1, maximum: int | None = None) -> None:
    """An integer >= ``minimum`` (and <= ``maximum`` when given)."""
    ok = is_int(value) and value >= minimum and (maximum is None or value <= maximum)
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    require(ok, key, f"must be an integer {bounds}, got {value!r}")


def number(
    value: object, key: str, minimum: float = 0, maximum: float | None = None, above: bool = False
) -> None:
    """A number >= ``minimum`` (> with ``above``), and <= ``maximum`` when given."""
    ok = is_number(value) and (value > minimum if above else value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if maximum is not None:
        bounds = f"in [{minimum}, {maximum}]"
    else:
        bounds = f"{'>' if above else '>='} {minimum}"
    require(ok, key, f"must be a number {bounds}, got {value!r}")


def fraction(value: object, key: str) -> None:
    """A number in [0, 1]."""
    number(value, key, minimum=0, maximum=1)


def choice(value: object, choices: Sequence[object], key: str) -> None:
    """One of ``choices``."""
    require(value in choices, key, f"must be one of {', '.join(map(str, choices))}; got {value!r}")


def flag(value: object, key: str) -> None:
    """A bool."""
    require(isinstance(value, bool), key, f"must be true or false, got {value!r}")
