"""Stage `train@<head>`: fit one head on the train split, its params chosen on the valid split."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from ..artifacts.embeddings import load_embeddings
from ..data.params import DataParams
from ..figures.training import plot_lr_find
from ..heads.base import EmbeddingHead, Head
from ..heads.halving import HalvingParams
from ..heads.registry import head_from_params, search_space
from ..heads.reject import RejectCalibration, max_probability, nearest_similarity, save_train_keys
from ..heads.search import grid, projected_seconds, search
from ..params import parse
from .arguments import parse_stage


def run(
    *,
    head: Head,
    embeddings_path: Path,
    data_root: str,
    out: Path,
    space: dict | None = None,
    halving: HalvingParams | None = None,
) -> dict:
    """Fit `head` (searching `space` on the valid split), save it to `out` with fit.json."""
    emb = load_embeddings(embeddings_path)
    X, y = head.pick_inputs(emb.vectors, emb.images(data_root)), emb.label_names
    train, valid = emb.split == "train", emb.split == "valid"
    print(
        f"train {head.name}: {train.sum()} train rows, {valid.sum()} valid rows, {len(emb.classes)} classes",
        flush=True,
    )
    _say_if_long(head, space or {}, (int(train.sum()), emb.vectors.shape[1]), len(emb.classes), halving)
    start = time.perf_counter()
    eval_set = (X[valid], y[valid]) if valid.any() else None
    X_train = X[train]  # a copy of every train row's vector: made once
    recorded = head.record_fit_vectors(X_train)  # fit only reads them, in every candidate
    if recorded:
        print(f"train {head.name}: {recorded}", flush=True)
    found = search(head, space or {}, X_train, y[train], eval_set, halving)
    seconds = time.perf_counter() - start
    head = found.head
    head.save(out, features=emb.source)
    info = {
        "head": head.name,
        "fit_seconds": seconds,  # the whole search: every candidate's fit
        "n_train": int(train.sum()),
        "chosen": {**found.chosen, **head.chosen_in_fit()},  # everything picked on the valid split
        "search": found.to_json(),
        **head.fit_report(),
    }
    (out / "fit.json").write_text(json.dumps(info, indent=2))
    if found.valid_proba is not None:
        _record_reject(head, found.valid_proba, X, train, valid, emb.keys, out)
    if head.history():
        _write_history(out / "history.csv", head.history())
    if head.lr_finder_result():
        plot_lr_find(head.lr_finder_result(), out / "lr_find.png")
    chosen = f" chose {found.chosen} of {len(found.candidates)} candidates;" if found.chosen else ""
    print(f"train {head.name}: fitted in {seconds:.1f}s ->{chosen} {out}; {head.fit_report()}")
    return info


def _record_reject(head: Head, valid_proba, X, train, valid, keys, out: Path) -> None:
    """The reject option's thresholds from the validation images' scores (reject.json; the
    probabilities are the search's, so no image is predicted twice), and for an embedding head
    the train rows' keys its nearest_train score compares new images with."""
    scores = {"max_probability": max_probability(valid_proba)}
    if isinstance(head, EmbeddingHead):
        scores["nearest_train"] = nearest_similarity(X[valid], X[train])
        save_train_keys(out, np.asarray(keys)[train])
    RejectCalibration.of(scores).write(out)


LONG_SECONDS = 600


def _say_if_long(head: Head, space: dict, train_shape: tuple[int, int], classes: int, halving) -> None:
    """Before a search projected to run long, its forecast and the param that bounds it."""
    rows, features = train_shape
    seconds = projected_seconds(head, space, rows, classes, features, halving)
    if seconds is None or seconds < LONG_SECONDS:
        return
    cap = head.get_params().get("max_train_rows")
    print(
        f"train {head.name}: this search is projected to take about {seconds / 60:.0f} min "
        f"({rows} train rows x {classes} classes x {features} features, {len(grid(space))} candidates; "
        f"a rough forecast). To bound it, set heads.{head.name}.max_train_rows (now {cap}; it fits on "
        f"a stratified share of that many rows, recorded in fit.json), or shorten the path "
        f"(heads.{head.name}.n_lambda, min_lambda_ratio) or the search",
        flush=True,
    )


def _write_history(path: Path, history: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def main(argv: list[str] | None = None) -> None:
    params, args = parse_stage("train", __doc__, argv, head=True, paths={"embeddings": "", "out": ""})
    head = head_from_params(args.head, params)  # bad params stop here, before any data is read
    space = search_space(args.head, params, head)
    halving = parse(HalvingParams, params.mapping("heads.halving"), "heads.halving")
    root = params.block("data", DataParams).root
    run(
        head=head, embeddings_path=args.embeddings, data_root=root, out=args.out, space=space, halving=halving
    )
