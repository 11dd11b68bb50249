"""The feature store: `Store` (base.py) and `open_store` (open.py); the segment store, its
writer, one segment file, the version-1 file, failure records, maintenance, verify and export.

May import `hashing/` and `networks/side_files` (verify checks the files kept beside the vectors).
"""
