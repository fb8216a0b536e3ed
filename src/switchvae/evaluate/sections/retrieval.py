"""``retrieval.image_to_voxel.{top1,top5,distance,standardized,gallery_size}``.

Each image latent of the scored split looks for its own shape's voxel latent among all of
them (see :mod:`switchvae.evaluate.retrieval`); two-branch modes only.
"""

from __future__ import annotations

from collections.abc import Mapping

from switchvae.analysis.html import Table
from switchvae.evaluate.retrieval import TOP_K, image_to_voxel_retrieval
from switchvae.evaluate.sections import MetricSection, Scored, percent


def compute(scored: Scored) -> dict | None:
    """The section, or None when the model has only one branch."""
    test, train = scored.test, scored.train
    if test.z_voxel is None or test.z_image is None:
        return None
    reference = None if train is None else train.z_voxel
    return {"image_to_voxel": image_to_voxel_retrieval(test.z_image, test.z_voxel, reference)}


def tables(section: Mapping) -> list[Table]:
    """Image → voxel retrieval top-k."""
    found = section.get("image_to_voxel")
    if not isinstance(found, Mapping):
        return []
    keys = sorted((k for k in found if k.startswith("top")), key=lambda k: int(k[3:]))
    rows = [[f"top-{k[3:]}", percent(found[k])] for k in keys]
    gallery, distance = found.get("gallery_size", "?"), found.get("distance", "?")
    note = f"gallery: {gallery} voxel latents of the split; distance: {distance}"
    title = "retrieval: image latent → voxel latent of the same shape"
    return [Table(title, ["k", "accuracy"], rows, note)]


METRIC = MetricSection(
    key="retrieval",
    compute=compute,
    tables=tables,
    headline=tuple(f"retrieval.image_to_voxel.top{k}" for k in TOP_K),
    demo=tuple(
        (f"retrieval image->voxel top-{k}", f"retrieval.image_to_voxel.top{k}") for k in TOP_K
    ),
    order=40,
    timed=True,
)
