"""Downloads of the public datasets (``switchvae download``).

``datasets`` (what each dataset is: files, terms, :func:`download_dataset`), ``fetch``
(resumable HTTP with size and checksum checks) and ``archive`` (safe extraction).
"""
