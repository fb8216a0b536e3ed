"""The registry of dataset sources: every ``switchvae prepare SOURCE`` sub-command.

A source module in this package declares, beside its source class, a module-level

    COMMAND = SourceCommand(name=..., help=..., add_arguments=..., build=...)

and is then found by :func:`source_commands` (no list to edit elsewhere): adding a source is
one new file. ``build`` turns the parsed arguments into the source (the
:class:`~switchvae.data.sources.base.Source` protocol); the options shared by every source
(``--out``, ``--resolution``, ...) are added by ``switchvae.cli.prepare``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceCommand:
    """How one source appears on the command line.

    Attributes:
        name: the sub-command, ``switchvae prepare NAME``.
        help: one line for ``switchvae prepare --help``.
        add_arguments: adds the source's own options to its sub-parser.
        build: parsed arguments -> the source object; may adjust ``args`` (e.g. force
            ``args.color``) and raises :class:`~switchvae.errors.ConfigError` on bad options.
        description: the longer text of ``switchvae prepare NAME --help``.
        defaults: values that replace the shared options' defaults (e.g. ``views=24``).
        order: position in ``switchvae prepare --help`` (lower first, then by name).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace], Any]
    description: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    order: int = 100


def source_commands() -> list[SourceCommand]:
    """Every ``COMMAND`` declared by a module of ``switchvae.data.sources``, in help order."""
    package = importlib.import_module("switchvae.data.sources")
    commands = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        command = getattr(module, "COMMAND", None)
        if isinstance(command, SourceCommand):
            commands.append(command)
    return sorted(commands, key=lambda c: (c.order, c.name))
