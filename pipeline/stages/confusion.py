"""Stage `confusion`: where each head errs, where heads disagree, and which labels look wrong."""

from __future__ import annotations

import argparse
import functools
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from features import read_image

from ..analysis.label_issues import find_label_issues, out_of_fold_proba
from ..config import ConfusionParams, DataParams
from ..embeddings import load_embeddings
from ..heads import read_enabled_heads
from ..params import read_block
from ..plots import plot_bars, plot_confusion, plot_gallery
from ..predictions import read_all_heads

THUMBNAIL = (160, 160)


def run(
    heads: list[str],
    params: ConfusionParams,
    data_root: str,
    embeddings_path: Path,
    predictions_tpl: str,
    metrics_path: Path,
    reports: Path,
) -> dict:
    emb = load_embeddings(embeddings_path)
    classes = emb.classes
    index = {c: i for i, c in enumerate(classes)}
    root = Path(data_root).expanduser()
    reports.mkdir(parents=True, exist_ok=True)

    @functools.cache  # the same image shows up in many heads' galleries
    def thumb(rel: str) -> Image.Image:
        image = read_image(root / rel)
        image.thumbnail(THUMBNAIL)
        return image

    predictions = read_all_heads(heads, predictions_tpl)
    test_paths = predictions[heads[0]].paths
    true = np.array([index[c] for c in predictions[heads[0]].true])
    result: dict = {"heads": {}}
    predicted: dict[str, np.ndarray] = {}
    for head in heads:
        pred = np.array([index[c] for c in predictions[head].predicted])
        confidence = predictions[head].confidence
        predicted[head] = pred
        counts = np.zeros((len(classes), len(classes)))
        np.add.at(counts, (true, pred), 1)
        matrix = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        plot_confusion(
            matrix, classes, reports / f"{head}_matrix.png", f"{head}: test confusion (row-normalised)"
        )
        per_class = {c: float(matrix[i, i]) for i, c in enumerate(classes)}
        plot_bars(
            per_class, reports / f"{head}_per_class.png", f"{head}: test accuracy per class", "accuracy"
        )
        off = counts.copy()
        np.fill_diagonal(off, 0)
        pairs = [
            (classes[i], classes[j], int(off[i, j]))
            for i, j in zip(*np.unravel_index(np.argsort(off, axis=None)[::-1], off.shape), strict=True)
            if off[i, j] > 0
        ][: params.top_pairs]

        wrong = np.flatnonzero(pred != true)
        wrong = wrong[np.argsort(-confidence[wrong])][: params.gallery]
        plot_gallery(
            [thumb(test_paths[i]) for i in wrong],
            [f"{classes[true[i]]}\n→ {classes[pred[i]]} ({confidence[i]:.2f})" for i in wrong],
            reports / f"{head}_misclassified.png",
            f"{head}: misclassified test images, most confident first (true → predicted)",
            colors=["tab:red"] * len(wrong),
        )
        shown, captions, colors = [], [], []
        for c in range(len(classes)):
            members = np.flatnonzero(pred == c)
            for i in members[np.argsort(-confidence[members])][: params.per_class]:
                shown.append(thumb(test_paths[i]))
                captions.append(
                    f"{classes[c]} ({confidence[i]:.2f})"
                    + ("" if true[i] == c else f"\ntrue: {classes[true[i]]}")
                )
                colors.append("black" if true[i] == c else "tab:red")
        plot_gallery(
            shown,
            captions,
            reports / f"{head}_confident.png",
            f"{head}: the {params.per_class} most confident test images per predicted class",
            cols=params.per_class,
            colors=colors,
        )
        result["heads"][head] = {
            "test_accuracy": float((pred == true).mean()),
            "per_class_accuracy": per_class,
            "most_confused": [{"true": a, "predicted": b, "count": n} for a, b, n in pairs],
        }

    result["disagreement"] = _disagreement(
        heads, predicted, true, classes, test_paths, thumb, params, reports
    )
    result["label_issues"] = _label_issues(emb, params, thumb, reports)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(result, indent=2))
    print(
        f"confusion: {len(heads)} heads; heads disagree on {result['disagreement']['images']} test images; "
        f"{len(result['label_issues'])} likely label issues"
    )
    return result


def _disagreement(heads, predicted, true, classes, test_paths, thumb, params, reports) -> dict:
    stacked = np.stack([predicted[h] for h in heads])
    distinct = np.array([len(set(column)) for column in stacked.T])
    disputed = np.flatnonzero(distinct > 1)
    disputed = disputed[np.argsort(-distinct[disputed], kind="stable")][: params.gallery]
    plot_gallery(
        [thumb(test_paths[i]) for i in disputed],
        [
            f"true {classes[true[i]]}\n"
            + ", ".join(f"{h}:{classes[predicted[h][i]]}"[:18] for h in heads[:3])
            for i in disputed
        ],
        reports / "disagreements.png",
        "Test images on which the heads disagree (first three heads shown)",
    )
    fixes = {}
    for a, b in itertools.permutations(heads, 2):
        # Confusions b makes on images a gets right: what switching from b to a would fix.
        mask = (predicted[a] == true) & (predicted[b] != true)
        made = Counter((classes[true[i]], classes[predicted[b][i]]) for i in np.flatnonzero(mask))
        fixes[f"{a} fixes {b}"] = [
            {"true": t, "predicted_by_" + b: p, "count": n} for (t, p), n in made.most_common(5)
        ]
    return {
        "images": int((distinct > 1).sum()),
        "all_wrong": int((stacked != true).all(axis=0).sum()),
        "fixes": fixes,
    }


def _label_issues(emb, params, thumb, reports) -> list[dict]:
    proba = out_of_fold_proba(emb.vectors, emb.labels, params.label_issue_folds, params.seed)
    rows = find_label_issues(emb.labels, proba)[: params.gallery]
    issues = [
        {
            "path": str(emb.paths[i]),
            "label": emb.classes[emb.labels[i]],
            "suggested": emb.classes[int(proba[i].argmax())],
            "label_probability": float(proba[i, emb.labels[i]]),
        }
        for i in rows
    ]
    plot_gallery(
        [thumb(r["path"]) for r in issues],
        [
            f"labelled {r['label']}\nlooks like {r['suggested']} ({r['label_probability']:.2f})"
            for r in issues
        ],
        reports / "label_issues.png",
        "Likely label issues (confident learning on out-of-fold probabilities), most suspect first",
    )
    return issues


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline confusion", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--predictions", required=True, help="path template with {head}")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    heads = read_enabled_heads(args.params)
    run(
        heads,
        read_block("confusion", ConfusionParams, args.params),
        read_block("data", DataParams, args.params).root,
        args.embeddings,
        args.predictions,
        args.metrics,
        args.reports,
    )
