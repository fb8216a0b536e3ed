"""Cross-modal retrieval: each shape's image latent queries the voxel latents of the split.

Distance: **Euclidean** on latents standardized with one scaler (per-dimension mean and
standard deviation) fit on the **train split's voxel latents** and applied to both queries and
gallery. One shared scaler keeps the two branches in the space the alignment loss compares
them in (a scaler per branch would silently remove an offset between them), and fitting it on
train keeps the test split out of every choice. Without train latents the raw latents are used.

top-k is the fraction of queries whose own shape's voxel latent is among the k nearest.
Ties count against the query: its rank is the number of *other* gallery items at a distance
less than or equal to its own shape's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import StandardScaler

from switchvae.errors import DataError

TOP_K = (1, 5)
DISTANCE = "euclidean"
QUERY_CHUNK = 1024  # queries per distance block: memory (chunk, N) float64


def _squared_distances(
    query: np.ndarray, gallery: np.ndarray, gallery_sq: np.ndarray
) -> np.ndarray:
    """(Q, K), (N, K), (N,) -> (Q, N) squared Euclidean distances."""
    query_sq = np.einsum("qk,qk->q", query, query)
    return np.maximum(query_sq[:, None] - 2.0 * query @ gallery.T + gallery_sq[None, :], 0.0)


def retrieval_ranks(query: np.ndarray, gallery: np.ndarray, chunk: int = QUERY_CHUNK) -> np.ndarray:
    """Rank of each query's own gallery item (0 = nearest), pessimistic on ties.

    Args:
        query: (N, K); row i's correct match is ``gallery[i]``.
        gallery: (N, K).
        chunk: queries per vectorized block.

    Returns:
        int64 (N,) number of other gallery items at distance <= the correct one's.
    """
    query = np.asarray(query, dtype=np.float64)
    gallery = np.asarray(gallery, dtype=np.float64)
    if query.shape != gallery.shape or query.ndim != 2:
        raise DataError(
            f"query and gallery must both be (N, K), got {query.shape} and {gallery.shape}"
        )
    gallery_sq = np.einsum("nk,nk->n", gallery, gallery)
    ranks = np.empty(len(query), dtype=np.int64)
    for start in range(0, len(query), chunk):
        rows = np.arange(start, min(start + chunk, len(query)))
        distances = _squared_distances(query[rows], gallery, gallery_sq)
        own = distances[np.arange(len(rows)), rows]
        ranks[rows] = (distances <= own[:, None]).sum(axis=1) - 1  # minus the item itself
    return ranks


def top_k_accuracy(ranks: np.ndarray, ks: Sequence[int] = TOP_K) -> dict[str, float]:
    """``{"top1": ..., "top5": ...}``: fraction of ranks < k for each k."""
    return {f"top{k}": float(np.mean(ranks < k)) for k in ks}


def image_to_voxel_retrieval(
    z_image: np.ndarray,
    z_voxel: np.ndarray,
    reference: np.ndarray | None = None,
    ks: Sequence[int] = TOP_K,
) -> dict:
    """Image latent -> nearest voxel latents of the same split.

    Args:
        z_image: (N, K) queries, z_voxel: (N, K) gallery, row i of both is shape i.
        reference: (M, K) latents the standardization is fit on (train voxel latents); None
            keeps the raw latents.
        ks: the k of each top-k.

    Returns:
        ``{"top1", "top5", "distance", "standardized", "gallery_size"}``.
    """
    if reference is not None:
        scaler = StandardScaler().fit(reference)
        z_image, z_voxel = scaler.transform(z_image), scaler.transform(z_voxel)
    ranks = retrieval_ranks(z_image, z_voxel)
    return {
        **top_k_accuracy(ranks, ks),
        "distance": DISTANCE,
        "standardized": "train voxel latents" if reference is not None else "no",
        "gallery_size": len(z_voxel),
    }
