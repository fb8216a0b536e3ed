"""Argument types shared by the command-line modules (no torch import at module load)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable


def default_workers() -> int:
    """The CPU cores this process may use (at least 1): the default of ``--workers``."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a message naming the bad value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def int_up_to(high: int) -> Callable[[str], int]:
    """argparse type: an integer in 1..high (a bound against runaway memory)."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"expected at most {high}, got {value}")
        return value

    parse.__name__ = f"integer 1..{high}"  # argparse names the type in its messages
    return parse


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0, with a message naming the bad value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def fraction(text: str) -> float:
    """argparse type: a share in [0, 1), with a message naming the bad value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {value}")
    return value


def name_list(values: list[str] | None) -> tuple[str, ...] | None:
    """Names given as several arguments and/or comma-separated (None when none are given)."""
    if not values:
        return None
    return tuple(n.strip() for v in values for n in v.split(",") if n.strip())


def parse_device(name: str):
    """``auto`` (a GPU if there is one, else the CPU), ``cpu``, ``cuda:0``, ... -> torch.device."""
    import torch

    from switchvae.errors import ConfigError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"--device: {str(err).splitlines()[0]}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {name}: no CUDA GPU is available here; use --device cpu")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"--device {name}: there are only {count} CUDA GPU(s) here")
    return device
