"""Engines that turn a plan into embedded batches: `local.py`, `ray.py`; `registry.py` picks
one by name, importing only that one; `settings.py` and `ray_options.py` say where and how
wide they run without loading either.

May import every other folder of `features`.
"""
