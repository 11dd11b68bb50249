"""Benchmark: fit and predict time and test accuracy of every embedding head, side by side,
with scikit-learn's elastic-net LogisticRegressionCV (saga) at glmnet's mixing and folds.

    python bench/heads.py [--images DIR] [--store PATH] [--weights none|ENUM|PATH]

Embeddings of the shared Caltech subset come from the feature store (computed once).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from features import FeatureStore, create_extractor, extract
from pipeline.config import SplitParams
from pipeline.heads import make_head
from pipeline.params import load_params
from pipeline.scan import scan_folder
from pipeline.splits import stratified_split
from pipeline.stats import mcnemar_exact

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = ROOT.parent / "shared" / "data" / "caltech101-22"


def load_subset(images: Path, store: Path, weights: str):
    items = scan_folder(images).items
    split = np.array(stratified_split([i.label for i in items], SplitParams(), seed=0))
    extractor = create_extractor(weights=weights)
    report = extract([images / i.path for i in items], FeatureStore(store), extractor, progress=False)
    X = FeatureStore(store).get(extractor.fingerprint, report.keys)
    y = np.array([i.label for i in items])
    return X[split == "train"], y[split == "train"], X[split == "test"], y[split == "test"]


def timed(model, X, y, X_test, y_test) -> tuple[float, float, np.ndarray, int]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        fit = time.perf_counter() - start
    start = time.perf_counter()
    correct = model.predict(X_test) == y_test
    predict = time.perf_counter() - start
    return fit, predict, correct, sum(issubclass(w.category, ConvergenceWarning) for w in caught)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--store", type=Path, default=Path("~/.cache/workbench/features.h5").expanduser())
    parser.add_argument("--weights", default="none")
    args = parser.parse_args()

    X, y, X_test, y_test = load_subset(args.images, args.store, args.weights)
    print(f"{len(X)} train x {X.shape[1]} features, {len(X_test)} test rows, {len(set(y))} classes")
    params = load_params(ROOT / "params.yaml")["heads"]
    results = {}
    for name in ("mlp", "glmnet", "knn", "logreg"):
        results[name] = timed(make_head(name, **params.get(name, {})), X, y, X_test, y_test)
    glm = params["glmnet"]
    saga = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(
            l1_ratios=(glm["alpha"],),
            cv=glm["n_splits"],
            solver="saga",
            penalty="elasticnet",
            max_iter=1000,
            n_jobs=glm["n_jobs"],
            random_state=0,
        ),
    )
    results["saga (LogisticRegressionCV)"] = timed(saga, X, y, X_test, y_test)

    for name, (fit, predict, correct, warned) in results.items():
        note = f"  ({warned} convergence warnings)" if warned else ""
        print(
            f"{name:28s} fit {fit:7.2f}s  predict {predict * 1000:7.1f}ms  "
            f"test accuracy {correct.mean():.3f}{note}"
        )
    g_fit, _, g_correct, _ = results["glmnet"]
    s_fit, _, s_correct, _ = results["saga (LogisticRegressionCV)"]
    test = mcnemar_exact(g_correct, s_correct)
    print(
        f"glmnet vs saga at alpha={glm['alpha']}, {glm['n_splits']} folds: {s_fit / g_fit:.1f}x faster "
        f"(target >= 3x); accuracy {g_correct.mean():.3f} vs {s_correct.mean():.3f} (target: equal or "
        f"better; exact McNemar p = {test['p_value']:.2g} on {test['a_only']} vs {test['b_only']} "
        "images only one of them gets right)"
    )


if __name__ == "__main__":
    main()
