"""Triangle meshes: loading (with ModelNet's malformed OFF headers repaired) and normalization.

The canonical frame (DESIGN §8): y is up, the bounding box is centered at the origin and its
longest side is (D-2)/D, so that in a grid of side D covering the cube [-0.5, 0.5]^3 the shape
keeps one voxel of margin on each side.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import trimesh

from switchvae.errors import DataError

CANONICAL_UP = "y"
"""Up axis of the canonical frame (DESIGN §8)."""

MODELNET_UP = "z"
"""ModelNet meshes are stored z-up (DESIGN §8; Wu et al. 2015, ModelNet)."""

SHAPENET_UP = "y"
"""ShapeNet meshes are stored y-up (DESIGN §8; Chang et al. 2015, ShapeNet)."""

UP_AXES = ("y", "z")
"""Up axes that :func:`normalize_mesh` can convert from."""

MESH_FORMATS = ("off", "obj", "ply", "stl", "glb", "gltf")
"""File suffixes :func:`load_mesh` accepts (all read by trimesh)."""

MARGIN_VOXELS = 1
"""Empty voxels kept on each side of a normalized shape (DESIGN §8)."""

# z-up -> y-up as a proper rotation (det = +1): x' = x, y' = z, z' = -y.
_Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# ModelNet's broken first line: "OFF" glued to the counts ("OFF490 518 0"), no line break.
_OFF_HEADER = re.compile(rb"\A\s*(#[^\n]*\n\s*)*[CN]?OFF")
_GLUED_OFF_HEADER = re.compile(rb"\A(\s*)([CN]?OFF)(?=[ \t]*[+-]?\d)")


def _repair_off_header(data: bytes) -> bytes:
    """Return OFF file bytes with a header like ``OFF490 518 0`` split onto two lines."""
    return _GLUED_OFF_HEADER.sub(rb"\1\2\n", data, count=1)


def check_mesh(mesh: trimesh.Trimesh, source: str = "<mesh>") -> None:
    """Raise :class:`DataError` unless ``mesh`` is a usable triangle mesh.

    Usable means: a :class:`trimesh.Trimesh` with at least one vertex and one face, all
    vertices finite, face indices in range, and a positive total surface area.

    Args:
        mesh: the mesh to check.
        source: where the mesh came from (a file path), used in the error message.

    Raises:
        DataError: naming ``source`` and the problem.
    """
    if not isinstance(mesh, trimesh.Trimesh):
        raise DataError(f"{source}: expected a triangle mesh, got {type(mesh).__name__}")
    vertices = np.asarray(mesh.vertices)
    faces = np.asarray(mesh.faces)
    if len(vertices) == 0 or len(faces) == 0:
        raise DataError(
            f"{source}: mesh has {len(vertices)} vertices and {len(faces)} faces; "
            "a triangle mesh with at least one face is needed"
        )
    if not np.isfinite(vertices).all():
        bad = int((~np.isfinite(vertices).all(axis=1)).sum())
        raise DataError(f"{source}: {bad} vertices have non-finite (NaN or inf) coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise DataError(f"{source}: a face refers to a vertex index outside 0..{len(vertices) - 1}")
    if np.ptp(vertices, axis=0).max() == 0.0:
        raise DataError(f"{source}: degenerate mesh, all vertices are the same point")
    triangles = vertices[faces]
    doubled_area = np.linalg.norm(
        np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1
    )
    if not doubled_area.sum() > 0.0:
        raise DataError(f"{source}: degenerate mesh, all faces have zero area")


def load_mesh(path: str | Path) -> trimesh.Trimesh:
    """Load a triangle mesh from an OFF, OBJ, PLY, STL, GLB or glTF file.

    Scenes (several meshes, e.g. GLB) are concatenated into one mesh with their transforms
    applied. ModelNet OFF files whose first line is ``OFF<n> <m> 0`` are repaired in memory;
    the file itself is never modified. Vertices are kept as stored (no merging).

    Args:
        path: the mesh file; its suffix selects the format.

    Returns:
        The mesh, checked with :func:`check_mesh`.

    Raises:
        DataError: the file is missing, of an unknown format, unparsable, has no faces or
            zero area, or has non-finite vertices. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: mesh file not found")
    file_type = path.suffix.lower().lstrip(".")
    if file_type not in MESH_FORMATS:
        raise DataError(
            f"{path}: unknown mesh format {path.suffix!r}; expected one of "
            + ", ".join("." + name for name in MESH_FORMATS)
        )
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path}: mesh file is empty")
    if file_type == "off":
        if not _OFF_HEADER.match(data):
            raise DataError(f"{path}: not an OFF file (the first line does not start with 'OFF')")
        data = _repair_off_header(data)
    # OFF is parsed from the repaired bytes; other formats from the path (glTF may refer to
    # buffers and textures beside the file)
    source = io.BytesIO(data) if file_type == "off" else str(path)
    try:
        mesh = trimesh.load_scene(source, file_type=file_type, process=False).to_mesh()
    except Exception as error:  # trimesh raises many kinds on bad input
        raise DataError(f"{path}: cannot parse as {file_type.upper()}: {error}") from error
    check_mesh(mesh, source=str(path))
    return mesh


def normalize_mesh(
    mesh: trimesh.Trimesh, resolution: int = 32, up_axis: str = CANONICAL_UP
) -> trimesh.Trimesh:
    """Return a copy of ``mesh`` in the canonical frame of a grid of side ``resolution``.

    A z-up mesh (``up_axis="z"``, ModelNet) is first rotated to y-up keeping a right-handed
    frame: x stays x, new y = old z, new z = -old y. Then the bounding box of the vertices
    used by faces is centered at the origin and the mesh scaled uniformly so its longest side
    is ``(D - 2) / D``.

    Args:
        mesh: the input mesh; not modified.
        resolution: grid side D (>= 3) the margin is computed for.
        up_axis: the mesh's up axis, ``"y"`` or ``"z"``.

    Returns:
        A new mesh with vertices (N, 3) inside ``[-(D-2)/(2D), (D-2)/(2D)]^3``.

    Raises:
        DataError: empty, non-finite or degenerate mesh, or a bad argument.
    """
    if up_axis not in UP_AXES:
        raise DataError(f"up_axis={up_axis!r} is not supported; use one of {UP_AXES}")
    if int(resolution) != resolution or resolution < 2 * MARGIN_VOXELS + 1:
        raise DataError(f"resolution={resolution!r} must be an integer >= {2 * MARGIN_VOXELS + 1}")
    check_mesh(mesh)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if up_axis == "z":
        vertices = vertices @ _Z_UP_TO_Y_UP.T
    used = vertices[np.unique(np.asarray(mesh.faces))]
    low, high = used.min(axis=0), used.max(axis=0)
    longest_side = (resolution - 2 * MARGIN_VOXELS) / resolution
    vertices = (vertices - (low + high) / 2.0) * (longest_side / (high - low).max())
    return trimesh.Trimesh(vertices=vertices, faces=np.array(mesh.faces), process=False)
