"""Embed image folders with a pretrained CNN into a content-addressed store of HDF5 segments.

Folders by job, each importing only those listed before it (and `exceptions`, `constants`,
`locking`, which sit beside them; tests/test_import_cycles.py holds it to that):

    hashing/     content keys: SHA-256 of a file, derived keys, raw-key arrays, the hash cache
    images/      finding images, decoding them, preprocessing, the decoding DataLoader
    networks/    backbones, the extractor, devices and precisions, ONNX and int8
    store/       the store's interface, the segment store, the version-1 file, maintenance
    extraction/  the plan, claims, the one recorder, and the public `extract`
    engines/     who runs the extraction: this machine (local) or a Ray cluster, by name
    cli.py       `python -m features` / `workbench extract|info|verify|export|compact|convert`

Nothing is imported here, so a module pays only for what it uses (and `dvc.yaml` lists
exactly those files): `from features.store.open import open_store`,
`from features.extraction.extract import extract`.
"""
