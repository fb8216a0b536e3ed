"""Source: the 3D-R2N2 ShapeNet set (``switchvae prepare shapenet-r2n2``).

Inputs (Choy et al., 3D-R2N2, ECCV 2016): ``ShapeNetVox32/<taxonomy>/<model>/model.binvox``,
``ShapeNetRendering/<taxonomy>/<model>/rendering/{00..23}.png`` and the split file
``ShapeNet.json`` (:mod:`switchvae.data.sources.r2n2` has the facts and readers).

* Classes: the split file's categories (or those chosen) in split-file order, named by
  ``taxonomy_name``; the manifest's source description lists their taxonomy ids.
* Splits: train / val / test from the split file. A category whose folder is absent from
  both roots is left out with a log warning (and listed as absent); a model of a present
  category that is missing or broken on disk is skipped with its reason.
* Voxels: the 32^3 ShapeNetVox32 grids as stored (read_binvox, then
  :func:`~switchvae.data.sources.r2n2.shapenetvox32_to_canonical`). They fill the grid with no
  one-voxel margin; they are kept so (recorded in the manifest), only resampled when the
  prepared resolution is not 32.
* Views: the original renders, not re-rendered: the first ``num_views`` (default all 24)
  at 137x137, stored RGBA (C = 4); :mod:`switchvae.data.store.prepared` fills the background on
  read (random light colour in training, gray 240 otherwise). Settings must use
  ``image_size`` 137 and ``num_views`` <= 24 (:func:`r2n2_settings`); ``color``, ``views``
  and ``elevation_deg`` do not apply: the cameras are those of ``rendering_metadata.txt``.
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from switchvae.cli.args import name_list
from switchvae.data.geometry.binvox import read_binvox
from switchvae.data.geometry.resample import resample_grid
from switchvae.data.sources.base import ItemSpec, PrepareSettings
from switchvae.data.sources.r2n2 import (
    R2N2_IMAGE_SIZE,
    R2N2_NUM_RENDERINGS,
    CategorySplit,
    read_renderings,
    read_split_file,
    shapenetvox32_to_canonical,
)
from switchvae.data.sources.registry import SourceCommand
from switchvae.errors import ConfigError, DataError

log = logging.getLogger(__name__)

R2N2_VOXEL_FILE = "model.binvox"  # ShapeNetVox32/<taxonomy>/<model>/model.binvox
R2N2_RENDERING_FOLDER = "rendering"  # ShapeNetRendering/<taxonomy>/<model>/rendering/
R2N2_SPLIT_FILE = "ShapeNet.json"  # split file name (hzxie/Pix2Vox datasets/ShapeNet.json)
R2N2_GRID_SIDE = 32  # ShapeNetVox32: 32^3 grids
R2N2_CHANNELS = 4  # ShapeNetRendering PNGs are RGBA
R2N2_GRID_NOTE = (
    "ShapeNetVox32 grids as stored: shapes touch the grid faces (no one-voxel margin); "
    "oriented with shapenetvox32_to_canonical, resampled only when the resolution is not 32"
)


def default_split_file(voxels: str | Path) -> Path:
    """Where the split file is looked for when none is given: beside ShapeNetVox32."""
    return Path(voxels).parent / R2N2_SPLIT_FILE


def r2n2_settings(
    resolution: int = R2N2_GRID_SIDE,
    num_views: int = R2N2_NUM_RENDERINGS,
    seed: int = 0,
) -> PrepareSettings:
    """Prepare settings that fit the R2N2 source: 137x137 RGB(A) views, the first V of 24."""
    return PrepareSettings(
        resolution=resolution,
        num_views=num_views,
        image_size=R2N2_IMAGE_SIZE,
        color=True,
        seed=seed,
    )


def check_r2n2_settings(settings: PrepareSettings) -> None:
    """Raise DataError unless the settings keep the original renders (image size 137, V <= 24)."""
    if settings.image_size != R2N2_IMAGE_SIZE:
        raise DataError(
            f"image_size={settings.image_size}: shapenet-r2n2 keeps the original "
            f"{R2N2_IMAGE_SIZE}x{R2N2_IMAGE_SIZE} renders; leave --image-size at {R2N2_IMAGE_SIZE}"
        )
    if not 1 <= settings.num_views <= R2N2_NUM_RENDERINGS:
        raise DataError(
            f"num_views={settings.num_views}: shapenet-r2n2 stores the first V of its "
            f"{R2N2_NUM_RENDERINGS} renders; use --views 1..{R2N2_NUM_RENDERINGS}"
        )


def _matches(category: CategorySplit, wanted: str) -> bool:
    return wanted in (category.taxonomy_id, category.taxonomy_name.lower())


@dataclass(frozen=True)
class ShapeNetR2N2Source:
    """ShapeNetVox32 + ShapeNetRendering under the 3D-R2N2 split (see the module docstring).

    Attributes:
        voxels: the ShapeNetVox32 folder.
        renderings: the ShapeNetRendering folder.
        split_file: ``ShapeNet.json``; None looks for it beside ``voxels``.
        categories: taxonomy ids or names to keep (None: every category of the split file).
    """

    voxels: Path
    renderings: Path
    split_file: Path | None = None
    categories: tuple[str, ...] | None = None
    name: str = "shapenet-r2n2"

    def __post_init__(self) -> None:
        for what, folder in (
            ("ShapeNetVox32", self.voxels),
            ("ShapeNetRendering", self.renderings),
        ):
            if not Path(folder).is_dir():
                raise DataError(f"{folder}: {what} folder not found; pass the {what} folder")
        if self.split_file is None and not default_split_file(self.voxels).is_file():
            raise DataError(
                f"no split file given and none at {default_split_file(self.voxels)}; pass "
                f"--split with the 3D-R2N2 {R2N2_SPLIT_FILE}"
            )
        self.selected()  # unknown categories and a bad split file fail here, up front

    def split_path(self) -> Path:
        """The split file used."""
        return Path(self.split_file) if self.split_file else default_split_file(self.voxels)

    def selected(self) -> list[CategorySplit]:
        """The categories prepared, in split-file order."""
        every = read_split_file(self.split_path())
        if self.categories is None:
            return every
        wanted = {c.strip().lower() for c in self.categories if c.strip()}
        unknown = sorted(w for w in wanted if not any(_matches(c, w) for c in every))
        if unknown:
            known = ", ".join(f"{c.taxonomy_id} ({c.taxonomy_name})" for c in every)
            raise DataError(f"unknown categories {unknown} in {self.split_path()}; known: {known}")
        return [c for c in every if any(_matches(c, w) for w in wanted)]

    def absent_categories(self) -> list[str]:
        """Taxonomy ids selected but without a folder in either root."""
        return [
            c.taxonomy_id
            for c in self.selected()
            if not (Path(self.voxels) / c.taxonomy_id).is_dir()
            and not (Path(self.renderings) / c.taxonomy_id).is_dir()
        ]

    def classes(self) -> list[str]:
        return [c.taxonomy_name for c in self.selected()]

    def items(self) -> list[ItemSpec]:
        absent = set(self.absent_categories())
        if absent:
            log.warning(
                "%d of the split file's categories have no folder in %s or %s, left out: %s",
                len(absent),
                self.voxels,
                self.renderings,
                ", ".join(sorted(absent)),
            )
        items = []
        for label, category in enumerate(self.selected()):
            if category.taxonomy_id in absent:
                continue
            for split in ("train", "val", "test"):
                for model in getattr(category, split):
                    item_id = f"{category.taxonomy_id}/{model}"
                    items.append(ItemSpec(item_id, label, split, item_id))
        return items

    def channels(self, settings: PrepareSettings) -> int:
        """RGBA (4); raises DataError first when the settings do not fit the renders."""
        check_r2n2_settings(settings)
        return R2N2_CHANNELS

    def build(self, item: ItemSpec, settings: PrepareSettings) -> tuple[np.ndarray, np.ndarray]:
        check_r2n2_settings(settings)
        binvox = Path(self.voxels) / item.payload / R2N2_VOXEL_FILE
        render_dir = Path(self.renderings) / item.payload / R2N2_RENDERING_FOLDER
        if not binvox.is_file():
            raise DataError(f"{binvox}: missing binvox (the model is in the split file)")
        if not render_dir.is_dir():
            raise DataError(
                f"{render_dir}: missing rendering folder (the model is in the split file)"
            )
        grid = shapenetvox32_to_canonical(read_binvox(binvox))
        grid = resample_grid(grid, settings.resolution)
        return grid, read_renderings(render_dir, list(range(settings.num_views)))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "voxels": str(Path(self.voxels).resolve()),
            "renderings": str(Path(self.renderings).resolve()),
            "split_file": str(self.split_path().resolve()),
            "taxonomy_ids": [c.taxonomy_id for c in self.selected()],
            "absent_categories": self.absent_categories(),
            "native_resolution": R2N2_GRID_SIDE,
            "grid": R2N2_GRID_NOTE,
            "views": "the first num_views of the 24 original 3D-R2N2 renders, 137x137 RGBA; "
            "background filled on read",
            "camera": "per view in <renderings>/<taxonomy>/<model>/rendering/rendering_metadata.txt",
        }


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--voxels", required=True, type=Path, help="the ShapeNetVox32 folder")
    parser.add_argument(
        "--renderings", required=True, type=Path, help="the ShapeNetRendering folder"
    )
    parser.add_argument(
        "--split",
        type=Path,
        default=None,
        help="the 3D-R2N2 ShapeNet.json (default: ShapeNet.json beside --voxels)",
    )
    parser.add_argument(
        "--categories",
        nargs="+",
        metavar="ID_OR_NAME",
        help="keep these categories (taxonomy ids or names, e.g. 03001627 or chair)",
    )


def _from_args(args: Namespace) -> ShapeNetR2N2Source:
    if args.image_size != R2N2_IMAGE_SIZE:
        raise ConfigError(
            f"--image-size {args.image_size}: shapenet-r2n2 keeps the original "
            f"{R2N2_IMAGE_SIZE}x{R2N2_IMAGE_SIZE} renders; leave --image-size out"
        )
    if args.views > R2N2_NUM_RENDERINGS:
        raise ConfigError(
            f"--views {args.views}: the 3D-R2N2 set has {R2N2_NUM_RENDERINGS} renders"
        )
    args.color = True  # the renders are RGB(A); recorded as such in the settings
    return ShapeNetR2N2Source(args.voxels, args.renderings, args.split, name_list(args.categories))


COMMAND = SourceCommand(
    name="shapenet-r2n2",
    help="ShapeNetVox32 + ShapeNetRendering under the 3D-R2N2 split",
    description="The 3D-R2N2 ShapeNet set: its 32^3 voxels as stored and its own "
    f"{R2N2_NUM_RENDERINGS} renders ({R2N2_IMAGE_SIZE}x{R2N2_IMAGE_SIZE} RGBA, background "
    "filled when read). --views keeps the first V renders (default all 24); "
    "--image-size must stay 137; --color, --camera and --backend do not apply.",
    add_arguments=_add_arguments,
    build=_from_args,
    defaults={"views": R2N2_NUM_RENDERINGS, "image_size": R2N2_IMAGE_SIZE},
    order=1,
)
