"""The prepare pipeline: a source's items -> a prepared dataset.

``prepare`` (:func:`prepare_dataset`: plan, resume, publish), ``prepare_work`` (the chunks
run by worker processes), ``pair`` (one mesh or grid -> its voxels and views) and
``shard`` (one slice of a plan per job, and ``merge`` of the slices).
"""
