"""Every head on the same test rows: paired bootstrap intervals and exact McNemar tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..predictions import TestPredictions
from ..stats import bootstrap_indices, bootstrap_interval, mcnemar_exact
from .results import Result


@dataclass
class HeadScores(Result):
    test_accuracy: float
    test_accuracy_ci: tuple[float, float]
    test_macro_f1: float
    test_macro_f1_ci: tuple[float, float]
    test_log_loss: float
    test_ece: float
    fit_seconds: float
    predict_ms_per_image: float
    model_bytes: int


@dataclass
class McNemar(Result):
    a_only: int  # test rows the first head gets right and the second wrong
    b_only: int
    p_value: float


@dataclass
class Comparison(Result):
    n_test: int
    resamples: int
    level: float
    heads: dict[str, HeadScores]
    mcnemar: dict[str, McNemar]  # "a vs b"

    def summary(self) -> dict[str, dict[str, float]]:
        """A handful of numbers per head, for `dvc metrics show` and `dvc exp show` (fits a screen)."""
        return {
            head: {
                "accuracy": round(r.test_accuracy, 4),
                "accuracy_low": round(r.test_accuracy_ci[0], 4),
                "accuracy_high": round(r.test_accuracy_ci[1], 4),
                "macro_f1": round(r.test_macro_f1, 4),
                "log_loss": round(r.test_log_loss, 4),
                "ece": round(r.test_ece, 4),
                "fit_seconds": round(r.fit_seconds, 1),
            }
            for head, r in self.heads.items()
        }

    def ranked(self) -> list[tuple[str, HeadScores]]:
        """Heads by test accuracy, best first."""
        return sorted(self.heads.items(), key=lambda kv: -kv[1].test_accuracy)


def compare_heads(
    predictions: dict[str, TestPredictions],
    metrics: dict[str, dict],
    resamples: int,
    level: float,
    seed: int,
) -> Comparison:
    """`predictions` and `metrics` (evaluate's JSON) per head, the heads in display order."""
    heads = list(predictions)
    y_true = predictions[heads[0]].true
    indices = bootstrap_indices(len(y_true), resamples, seed)  # the same resamples for every head
    table = {}
    for head in heads:
        y_pred, m = predictions[head].predicted, metrics[head]
        table[head] = HeadScores(
            test_accuracy=m["test"]["accuracy"],
            test_accuracy_ci=bootstrap_interval(y_true, y_pred, indices, "accuracy", level),
            test_macro_f1=m["test"]["macro_f1"],
            test_macro_f1_ci=bootstrap_interval(y_true, y_pred, indices, "macro_f1", level),
            test_log_loss=m["test"]["log_loss"],
            test_ece=m["test"]["ece"],
            fit_seconds=m["fit_seconds"],
            predict_ms_per_image=m["predict_ms_per_image"],
            model_bytes=m["model_bytes"],
        )
    correct = {h: predictions[h].predicted == y_true for h in heads}
    mcnemar = {
        f"{a} vs {b}": McNemar(**mcnemar_exact(correct[a], correct[b]))
        for a, b in itertools.combinations(heads, 2)
    }
    return Comparison(len(y_true), resamples, level, table, mcnemar)


def render_markdown(result: Comparison) -> str:
    level = round(result.level * 100)
    lines = [
        f"# Head comparison ({result.n_test} test images)",
        "",
        f"Intervals: {level}% paired bootstrap ({result.resamples} resamples, the same for every head).",
        "",
        f"| head | test accuracy [{level}% CI] | macro F1 [{level}% CI] "
        "| log loss | ECE | fit s | predict ms/img | size |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for head, r in result.ranked():
        acc_lo, acc_hi = r.test_accuracy_ci
        f1_lo, f1_hi = r.test_macro_f1_ci
        lines.append(
            f"| {head} | {r.test_accuracy:.3f} [{acc_lo:.3f}, {acc_hi:.3f}] | "
            f"{r.test_macro_f1:.3f} [{f1_lo:.3f}, {f1_hi:.3f}] | {r.test_log_loss:.3f} | "
            f"{r.test_ece:.3f} | {r.fit_seconds:.1f} | {r.predict_ms_per_image:.2f} | "
            f"{_size(r.model_bytes)} |"
        )
    lines += [
        "",
        "Exact McNemar test on the test rows (A only / B only: rows one head gets right, the other wrong):",
        "",
        "| pair | A only | B only | p-value |",
        "|---|---|---|---|",
    ]
    for pair, m in result.mcnemar.items():
        lines.append(f"| {pair} | {m.a_only} | {m.b_only} | {m.p_value:.3g} |")
    return "\n".join(lines) + "\n"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
