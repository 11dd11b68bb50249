"""Extraction: the plan, claims, the one recorder and report, and the public `extract`.

May import `hashing/`, `images/`, `networks/`, `store/`; `extract.py` runs `engines/local.py`.
"""
