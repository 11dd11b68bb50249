"""Benchmark: every embedding head's search (fit time, chosen values, test accuracy) on three
tasks, and glmnet's lambda path against scikit-learn's saga elastic net at the same alpha.

    python bench/heads.py [--tasks caltech22,caltech52,synthetic] [--saga caltech22]
                          [--weights none|ENUM|PATH]

Tasks: the shared Caltech subset (22 classes), the subset plus extra30 (52 classes), and
synthetic features shaped like ours (6,000 rows, 100 classes, 2048 non-negative features;
their zeros, the share of the first principal component and the spread of each image's
overall level are printed beside the real tasks' so that the likeness can be checked).
Caltech embeddings come from the feature store (computed once). Every task is split
0.6/0.2/0.2 as `prepare` splits; each head runs its params.yaml search on train, chosen on
valid, scored on test. "us/row/class" is fit seconds per train row per class: constant when
a fit grows as rows x classes.

glmnet vs saga: both fit a path at glmnet's first alpha (glmnet 100 lambdas, saga 10 C values
with warm starts, equivalent lambdas), each keeping the point best on valid by the heads'
rule; the speed ratio is saga's time over glmnet's, with their test accuracies and McNemar.
It runs on the subset by default: saga alone takes over ten minutes there, and over an hour on
each of the bigger tasks (`--saga caltech22,caltech52,synthetic` to run it anyway).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from features.extraction.extract import extract
from features.networks.extractor import create_extractor
from features.store.open import open_store
from pipeline.analysis.stats import mcnemar_exact
from pipeline.data.params import SplitParams
from pipeline.data.scan import scan_folder
from pipeline.data.splits import stratified_split
from pipeline.heads import selection
from pipeline.heads.registry import head_from_params, search_space
from pipeline.heads.search import search
from pipeline.params import Params

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
HEADS = ("mlp", "glmnet", "knn", "logreg")


def caltech(folders: list[Path], store: Path, weights: str):
    """Embeddings of every image under the class folders of `folders`, one task."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)  # one folder holding every set's class folders, as links
        for folder in folders:
            for cls in sorted(p for p in folder.iterdir() if p.is_dir()):
                (root / cls.name).symlink_to(cls.resolve())
        items = scan_folder(root).items
        extractor = create_extractor(weights=weights)
        report = extract([root / i.path for i in items], open_store(store), extractor, progress=False)
    X = open_store(store).get(extractor.fingerprint, report.keys)
    return X, np.array([i.label for i in items])


def synthetic(rows: int = 6000, classes: int = 100, dim: int = 2048, seed: int = 0):
    """Features shaped like random-init ResNet-50 pooled features (see `shape`): each image's
    overall level (a common factor, CV about 0.23) times a per-feature level, with a small
    class-dependent part; 5% of the features fire rarely (zero in most images)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), rows // classes)
    noise = 3.0  # within-class spread of the latent class signal, against 1 between classes
    latent = rng.normal(size=(classes, 64))[y] + noise * rng.normal(size=(len(y), 64))
    signal = latent @ (rng.normal(size=(64, dim)) / np.sqrt(64 * (1 + noise**2)))  # unit variance
    level = rng.lognormal(2.5, 1.0, size=dim)
    rare = rng.random(dim) < 0.05
    threshold = rng.uniform(0.0, 3.0, size=dim)
    X = np.where(rare, level * np.maximum(signal - threshold, 0.0), level * np.maximum(1 + 0.1 * signal, 0.0))
    X *= rng.lognormal(0.0, 0.23, size=(len(y), 1))  # the common factor: each image's overall level
    return X.astype(np.float32), np.array([f"c{c:03d}" for c in y])


def shape(X: np.ndarray) -> str:
    """What makes these features hard for coordinate descent, to set synthetic ones beside real."""
    X = X.astype(np.float64)
    Z = (X - X.mean(0)) / (X.std(0) + 1e-12)
    variance = np.linalg.svd(Z, compute_uv=False) ** 2
    level = X.mean(1)
    return (
        f"zeros {np.mean(X == 0):.3f}, first principal component {variance[0] / variance.sum():.2f} "
        f"of the standardised variance, image level CV {level.std() / level.mean():.2f}"
    )


def split(y: np.ndarray) -> dict[str, np.ndarray]:
    names = np.array(stratified_split(list(y), SplitParams(), seed=0))
    return {s: names == s for s in ("train", "valid", "test")}


def saga_path(X, y, X_val, y_val, alpha: float, n_c: int = 10):
    """saga's elastic net along C values from sparse to dense, warm-started, best on valid."""
    scaler = StandardScaler().fit(X)
    X, X_val = scaler.transform(X), scaler.transform(X_val)
    model = LogisticRegression(
        solver="saga", l1_ratio=alpha, C=1.0, max_iter=1000, warm_start=True, random_state=0
    )
    best, best_coef, warned = None, None, 0
    for C in np.logspace(-3, 1, n_c):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.set_params(C=C).fit(X, y)
        warned += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        score = selection.score(model.predict_proba(X_val), np.searchsorted(model.classes_, y_val))
        if best is None or score.key() > best.key():
            best, best_coef = score, (model.coef_.copy(), model.intercept_.copy(), C)
    return scaler, best_coef, warned


def run_task(name: str, X, y, params: Params, with_saga: bool) -> None:
    s = split(y)
    n_train, n_classes = int(s["train"].sum()), len(np.unique(y))
    print(f"\n## {name}: {n_train} train / {s['valid'].sum()} valid / {s['test'].sum()} test rows, "
          f"{X.shape[1]} features, {n_classes} classes; {shape(X)}")  # fmt: skip
    print(f"{'head':8s} {'fit s':>8s} {'us/row/class':>12s} {'test acc':>8s}  chosen on valid (candidates)")
    data = (X[s["train"]], y[s["train"]]), (X[s["valid"]], y[s["valid"]])
    correct = {}
    for head_name in HEADS:
        head = head_from_params(head_name, params)
        space = search_space(head_name, params, head)
        start = time.perf_counter()
        found = search(head, space, *data[0], data[1])
        seconds = time.perf_counter() - start
        correct[head_name] = found.head.predict(X[s["test"]]) == y[s["test"]]
        chosen = {**found.chosen, **found.head.chosen_in_fit()}
        note = "" if getattr(found.head, "converged_", True) else "  NOT CONVERGED"
        print(
            f"{head_name:8s} {seconds:8.1f} {1e6 * seconds / n_train / n_classes:12.1f} "
            f"{correct[head_name].mean():8.3f}  {chosen} ({len(found.candidates)}){note}",
            flush=True,
        )
    if not with_saga:
        return
    glm = head_from_params("glmnet", params)
    alpha = search_space("glmnet", params, glm).get("alpha", (glm.alpha,))[0]
    start = time.perf_counter()
    glm.set_params(alpha=alpha).fit(*data[0], eval_set=data[1])
    g_seconds = time.perf_counter() - start
    g_correct = glm.predict(X[s["test"]]) == y[s["test"]]
    start = time.perf_counter()
    scaler, (coef, intercept, C), warned = saga_path(*data[0], *data[1], alpha)
    s_seconds = time.perf_counter() - start
    classes = np.unique(y[s["train"]])
    s_pred = classes[np.argmax(scaler.transform(X[s["test"]]) @ coef.T + intercept, axis=1)]
    s_correct = s_pred == y[s["test"]]
    test = mcnemar_exact(g_correct, s_correct)
    print(
        f"glmnet vs saga at alpha={alpha}: glmnet {g_seconds:.1f}s, test accuracy {g_correct.mean():.3f} | "
        f"saga {s_seconds:.1f}s ({warned} of 10 fits not converged), test accuracy {s_correct.mean():.3f} "
        f"(C={C:.3g}) | glmnet {s_seconds / g_seconds:.1f}x faster (target >= 3x); exact McNemar "
        f"p = {test['p_value']:.2g}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", default="caltech22,caltech52,synthetic")
    parser.add_argument("--store", type=Path, default=Path("~/.cache/workbench/store").expanduser())
    parser.add_argument("--weights", default="none")
    parser.add_argument(
        "--saga", default="caltech22", help="tasks to compare glmnet with saga on ('' for none)"
    )
    args = parser.parse_args()
    params = Params.load(ROOT / "params.yaml")
    for task in args.tasks.split(","):
        if task == "caltech22":
            X, y = caltech([DATA / "caltech101-22"], args.store, args.weights)
        elif task == "caltech52":
            X, y = caltech([DATA / "caltech101-22", DATA / "caltech101-extra30"], args.store, args.weights)
        elif task == "synthetic":
            X, y = synthetic()
        else:
            parser.error(f"unknown task {task!r}; choose from caltech22, caltech52, synthetic")
        run_task(task, X, y, params, with_saga=task in args.saga.split(","))


if __name__ == "__main__":
    main()
