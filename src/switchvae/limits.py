"""Upper bounds on what an input may ask for, so a small file cannot demand huge memory.

Every limit is checked where the input is read, and a value beyond it is refused with one
line naming the file or option (``docs/reliability.md`` lists them with their tests).
"""

MAX_GRID_SIDE = 512
"""Largest voxel grid side read from a file (binvox, ``.npz`` arrays): 512³ voxels are
134 MB as booleans; 1024³ would take several GB while decoding."""

MAX_VIEWS = 256
"""Most views rendered per shape (``prepare --views``)."""

MAX_IMAGE_SIZE = 1024
"""Largest rendered view side in pixels (``prepare --image-size``)."""

MAX_CLASSES = 10_000
"""Most classes a voxel archive may imply through its largest label when it names none."""

MAX_SERIES_STEPS = 64
"""Most shapes one figure decodes (``interpolate --steps``, ``reconstruct --count``)."""
