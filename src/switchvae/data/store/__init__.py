"""Storage: the prepared dataset format on disk and the tools that write it safely.

``prepared`` (the format: manifest, packed voxels, view arrays; :func:`load_prepared`),
``prepared_check`` (its consistency checks), ``npy_stream`` and ``npz_members`` (reading
and writing .npy/.npz piece by piece), ``allocate`` (pre-sized arrays and the disk-space
check) and ``output_dir`` (work folders, locks and the final swap into place).
"""
