"""Benchmark: the reject option against classes a head never saw, on real pretrained features.

    python bench/openset.py [--accept 0.95] [--arch efficientnet_lite0] [--weights DEFAULT]
                            [--store ~/.cache/workbench/store] [--out bench/results/openset.txt]

The 22 classes of ../shared/data/caltech101-22 are the task: split 0.6/0.2/0.2 as `prepare`
splits, each embedding head searched by its params.yaml block on train and valid, as `train`
does. The 30 classes of caltech101-extra30 are never seen: every one of their images should be
`unknown`. Per head and score (`max_probability`: the head's largest class probability;
`nearest_train`: cosine similarity to the nearest train embedding, the same for every embedding
head), it prints the AUROC of telling the known test images from the unseen ones, then the
threshold calibrated on the valid split to accept `--accept` of known images (what `reject.json`
records), and at it: the share of known test images accepted, their accuracy, and the share of
unseen images accepted (each one a confident wrong answer). Run it alone; it embeds what the
store lacks first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.heads import DATA, HEADS, split  # noqa: E402
from bench.machine import RESULTS, RecordedOutput  # noqa: E402
from features.extraction.extract import extract
from features.networks.extractor import create_extractor
from features.store.base import Store
from features.store.open import open_store
from pipeline.data.scan import scan_folder  # noqa: E402
from pipeline.exceptions import PipelineError  # noqa: E402
from pipeline.heads.registry import head_from_params, search_space  # noqa: E402
from pipeline.heads.reject import RejectCalibration, max_probability, nearest_similarity  # noqa: E402
from pipeline.heads.search import search  # noqa: E402
from pipeline.params import Params  # noqa: E402


def embedded(folder: Path, store: Store, extractor) -> tuple[np.ndarray, np.ndarray]:
    items = scan_folder(folder).items
    report = extract([folder / i.path for i in items], store, extractor, progress=False)
    return store.get(extractor.fingerprint, report.keys), np.array([i.label for i in items])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accept", type=float, default=0.95)
    parser.add_argument("--arch", default="efficientnet_lite0")
    parser.add_argument("--weights", default="DEFAULT")
    parser.add_argument("--store", type=Path, default=Path("~/.cache/workbench/store").expanduser())
    parser.add_argument("--out", type=Path, default=RESULTS / "openset.txt")
    args = parser.parse_args()
    with RecordedOutput(args.out):
        store = open_store(args.store)
        extractor = create_extractor(args.arch, args.weights)
        X, y = embedded(DATA / "caltech101-22", store, extractor)
        unseen, unseen_labels = embedded(DATA / "caltech101-extra30", store, extractor)
        s = split(y)
        print(
            f"{args.arch} {args.weights} ({extractor.runtime} {extractor.precision}): known 22 classes, "
            f"{s['train'].sum()} train / {s['valid'].sum()} valid / {s['test'].sum()} test; unseen "
            f"{len(unseen)} images of {len(set(unseen_labels))} classes; reject calibrated to accept "
            f"{args.accept:.0%} of known valid images"
        )
        params = Params.load(Path(__file__).resolve().parents[1] / "params.yaml")
        rows = []
        nearest = {
            part: nearest_similarity(data, X[s["train"]])
            for part, data in (("valid", X[s["valid"]]), ("test", X[s["test"]]), ("unseen", unseen))
        }
        for name in HEADS:
            head = head_from_params(name, params)
            searched = search(head, search_space(name, params, head), X[s["train"]], y[s["train"]],
                              (X[s["valid"]], y[s["valid"]]))  # fmt: skip
            found = searched.head
            print(f"{name}: chose {searched.chosen} on valid", flush=True)
            proba = {"valid": found.predict_proba(X[s["valid"]]), "test": found.predict_proba(X[s["test"]]),
                     "unseen": found.predict_proba(unseen)}  # fmt: skip
            right = found.classes_[proba["test"].argmax(axis=1)] == y[s["test"]]
            scores = {"max_probability": {part: max_probability(p) for part, p in proba.items()},
                      "nearest_train": nearest}  # fmt: skip
            for score, values in scores.items():
                auroc = roc_auc_score(
                    np.r_[np.ones(len(values["test"])), np.zeros(len(values["unseen"]))],
                    np.r_[values["test"], values["unseen"]],
                )
                try:
                    threshold = RejectCalibration.of({score: values["valid"]}).threshold(args.accept, score)
                except PipelineError as exc:  # a score that ties cannot reject: said, as predict says it
                    rows.append((name, score, auroc, None, None, None, right.mean(), None))
                    print(f"{name:7s} {score:16s} AUROC {auroc:.3f} | {exc}", flush=True)
                    continue
                known, other = values["test"] >= threshold, values["unseen"] >= threshold
                rows.append((name, score, auroc, threshold, known.mean(), right[known].mean(), right.mean(),
                             other.mean()))  # fmt: skip
                print(
                    f"{name:7s} {score:16s} AUROC {auroc:.3f} | threshold {threshold:.4f}: known test "
                    f"accepted {known.mean():.3f} (accuracy {right[known].mean():.3f}, all "
                    f"{right.mean():.3f}), unseen accepted {other.mean():.3f}",
                    flush=True,
                )
        print("\n| head | score | AUROC known vs unseen | known test accepted | accuracy on accepted "
              "(all) | unseen accepted |\n|---|---|---|---|---|---|")  # fmt: skip
        for name, score, auroc, _, known, acc, all_acc, other in rows:
            if known is None:
                cells = [name, score, f"{auroc:.3f}", "cannot reject (ties)", f"- ({all_acc:.3f})", "-"]
            else:
                cells = [
                    name,
                    score,
                    f"{auroc:.3f}",
                    f"{known:.3f}",
                    f"{acc:.3f} ({all_acc:.3f})",
                    f"{other:.3f}",
                ]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
