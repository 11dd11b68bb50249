"""Interchangeable classifier heads; `registry.make_head(name, **params)` is how stages get one.

Kept empty so that importing one module of the package (names, a head) runs only that one:
dvc.yaml's deps, and so what re-runs, follow the imports.
"""
