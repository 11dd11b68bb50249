"""Stage `train@<head>`: fit one head on the train split (valid split for early stopping)."""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from ..config import DataParams
from ..embeddings import load_embeddings
from ..figures.training import plot_lr_find
from ..heads import Head, head_from_params
from ..params import Params


def run(*, head: Head, embeddings_path: Path, data_root: str, out: Path) -> dict:
    emb = load_embeddings(embeddings_path)
    X, y = emb.inputs(head.input_kind, data_root), emb.label_names
    train, valid = emb.split == "train", emb.split == "valid"
    print(
        f"train {head.name}: {train.sum()} train rows, {valid.sum()} valid rows, {len(emb.classes)} classes",
        flush=True,
    )
    start = time.perf_counter()
    head.fit(X[train], y[train], eval_set=(X[valid], y[valid]) if valid.any() else None)
    seconds = time.perf_counter() - start
    head.save(out, features=emb.source)
    info = {"head": head.name, "fit_seconds": seconds, "n_train": int(train.sum()), **head.fit_report()}
    (out / "fit.json").write_text(json.dumps(info, indent=2))
    history = getattr(head, "history_", None)
    if history:
        _write_history(out / "history.csv", history)
    if getattr(head, "lr_find_", None):
        plot_lr_find(head.lr_find_, out / "lr_find.png")
    print(f"train {head.name}: fitted in {seconds:.1f}s -> {out}; {head.fit_report()}")
    return info


def _write_history(path: Path, history: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench train", description=__doc__)
    parser.add_argument("head")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params = Params.load(args.params)
    head = head_from_params(args.head, params)  # bad params stop here, before any data is read
    root = params.block("data", DataParams).root
    run(head=head, embeddings_path=args.embeddings, data_root=root, out=args.out)
