"""Dataset sources: each module turns one kind of input into (voxels, views) items.

One module per source (``synthetic``, ``shapenet_r2n2``, ``modelnet``, ``voxel_arrays``,
``mesh_folder``), each declaring its ``switchvae prepare`` sub-command as ``COMMAND``
(found by ``registry``); ``base`` is the contract with the pipeline, ``holdout`` and
``arrays_layout`` are shared helpers, ``r2n2``/``r2n2_camera`` read the 3D-R2N2 files and
``synthetic_set``/``shapes`` make the embedded procedural shape set.
"""
