"""Content keys: SHA-256 of a file's bytes, derived keys, (n, 32) raw-key arrays, the hash cache.

Imports nothing else of `features` but `exceptions`.
"""
