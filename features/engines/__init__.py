"""Engines that turn a plan into embedded batches: `local.py`, `ray.py`; `registry.py`
picks one by name.

May import every other folder of `features`.
"""
