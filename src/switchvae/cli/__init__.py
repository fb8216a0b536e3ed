"""The ``switchvae`` command line: one module per group of commands.

``app`` (the parser and :func:`main`), ``args`` (shared argument types), ``prepare``
(``prepare SOURCE`` from the source registry, ``merge``), ``download``, ``fit``,
``evaluate``, ``analysis`` (``report``, ``reconstruct``, ``interpolate``, ``encode``,
``export``), ``export`` (``export-model``) and ``demo``.

``main`` and ``build_parser`` load ``app`` when first used, so that importing
``switchvae.cli.args`` (as the source modules do) does not build the whole command line.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("switchvae.cli.app"), name)
    raise AttributeError(f"module 'switchvae.cli' has no attribute {name!r}")
