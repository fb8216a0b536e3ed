"""``Manifest``: the typed, read-only view of a prepared dataset's ``manifest.json``.

:func:`~switchvae.data.store.prepared.read_manifest` checks the JSON
(:func:`~switchvae.data.store.prepared_check.check_manifest`) and returns a
:class:`Manifest`: the fields every reader needs are typed attributes, and the whole object
stays readable as a mapping (``manifest["stats"]``, ``manifest.get("fingerprint")``) for the
entries only one module uses. Its fields cannot be reassigned (leave its nested entries as
they are: ``to_dict`` gives a writable copy); the pipeline writes manifests as plain dicts and
reads them back through here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

RGB_CHANNELS, RGBA_CHANNELS = 3, 4


@dataclass(frozen=True, eq=False)
class Manifest(Mapping[str, Any]):
    """A checked ``manifest.json``.

    Attributes:
        classes: class names in label order.
        resolution: voxel grid side D.
        num_views: stored views per item V.
        image_size: view side H = W in pixels.
        channels: stored view channels C (1 gray, 3 RGB, 4 RGBA); None if not recorded.
        splits: ``{split: {"size": int, "ids": [str, ...], ...}}``.
        source: the source's description (``Source.describe()``), None if not recorded.
    """

    classes: tuple[str, ...]
    resolution: int
    num_views: int
    image_size: int
    channels: int | None
    splits: Mapping[str, Mapping[str, Any]]
    source: Any = None
    _entries: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """The manifest of a JSON object already checked by ``check_manifest``."""
        entries = copy.deepcopy(dict(data))
        return cls(
            classes=tuple(entries["classes"]),
            resolution=int(entries["resolution"]),
            num_views=int(entries["num_views"]),
            image_size=int(entries["image_size"]),
            channels=None if entries.get("channels") is None else int(entries["channels"]),
            splits=entries["splits"],
            source=entries.get("source"),
            _entries=entries,
        )

    @property
    def view_channels(self) -> int | None:
        """Channels of the views as read (RGBA is read as RGB: the background is filled)."""
        return RGB_CHANNELS if self.channels == RGBA_CHANNELS else self.channels

    def split_size(self, split: str) -> int:
        """Items in ``split`` (0 for a split the dataset does not have)."""
        return int(self.splits.get(split, {}).get("size", 0))

    def to_dict(self) -> dict[str, Any]:
        """A deep, writable copy of the whole JSON object."""
        return copy.deepcopy(dict(self._entries))

    def __getitem__(self, key: str) -> Any:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
