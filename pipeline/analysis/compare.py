"""Every head on the same test rows: paired bootstrap intervals, exact McNemar tests, Holm's adjustment.

A pair of heads gets a winner only when two independent readings agree: the Holm-adjusted
McNemar p-value is below 1 - level, and the paired bootstrap interval of the accuracy
difference excludes zero on the same side. Otherwise the test set cannot tell them apart.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..artifacts.predictions import TestPredictions
from .results import Result
from .stats import Resamples, bootstrap_difference, bootstrap_interval, holm, mcnemar_exact


@dataclass
class ReliabilityBin(Result):
    low: float
    high: float
    n: int
    accuracy: float | None  # None for an empty bin
    confidence: float | None


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
    reliability: list[ReliabilityBin]  # the test rows' confidence bins behind the ECE
    chosen: dict  # params chosen on the valid split (train's search, glmnet's lambda, the MLP's epoch)
    capped: str = ""  # "5000 of 60000": the train rows a head capped its fit to (glmnet's max_train_rows)
    failed: list[str] = field(default_factory=list)  # search candidates that could not be fitted, with why
    candidates: int = 0  # how many the search tried

    def chosen_text(self) -> str:
        text = ", ".join(f"{k}={_short(v)}" for k, v in self.chosen.items()) or "-"
        text += f"; fitted on {self.capped} train rows" if self.capped else ""
        if self.failed:
            text += f"; {len(self.failed)} of {self.candidates} candidates failed: " + "; ".join(self.failed)
        return text


@dataclass
class Pair(Result):
    """Head a against head b (a ranked higher): who wins, and how sure the test set is."""

    a: str
    b: str
    accuracy_difference: float  # a minus b
    difference_ci: tuple[float, float]  # paired bootstrap, the same resamples as the heads' intervals
    a_only: int  # test rows a gets right and b wrong
    b_only: int
    p_value: float  # exact McNemar
    p_holm: float  # adjusted across all pairs
    winner: str | None  # None: not distinguishable on this test set

    def verdict(self, level: float) -> str:
        if self.winner is not None:
            return f"{self.winner} is better"
        significant, excludes_zero = _readings(self.p_holm, self.difference_ci, level)
        if significant != excludes_zero:
            why = "adjusted p-value" if significant else "interval"
            return f"not distinguishable (only the {why} says they differ)"
        return "not distinguishable"


@dataclass
class Comparison(Result):
    n_test: int
    resamples: int
    level: float
    heads: dict[str, HeadScores]
    pairs: list[Pair]  # every pair, the better-ranked head first

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
    drawn = Resamples(len(y_true), resamples, seed)  # the same resamples for every head
    table = {}
    for head in heads:
        y_pred, m = predictions[head].predicted, metrics[head]
        table[head] = HeadScores(
            test_accuracy=m["test"]["accuracy"],
            test_accuracy_ci=bootstrap_interval(y_true, y_pred, drawn, "accuracy", level),
            test_macro_f1=m["test"]["macro_f1"],
            test_macro_f1_ci=bootstrap_interval(y_true, y_pred, drawn, "macro_f1", level),
            test_log_loss=m["test"]["log_loss"],
            test_ece=m["test"]["ece"],
            fit_seconds=m["fit_seconds"],
            predict_ms_per_image=m["predict_ms_per_image"],
            model_bytes=m["model_bytes"],
            reliability=[ReliabilityBin(**b) for b in m["test"]["reliability"]],
            chosen=m.get("chosen", {}),
            capped=_capped(m.get("train_rows")),
            failed=m.get("failed_candidates", []),
            candidates=m.get("candidates", 0),
        )
    return Comparison(len(y_true), resamples, level, table, pairwise(predictions, table, drawn, level))


def _capped(rows: dict | None) -> str:
    if not rows or None in (rows["fitted"], rows["of"]) or rows["fitted"] >= rows["of"]:
        return ""
    return f"{rows['fitted']} of {rows['of']}"


def pairwise(
    predictions: dict[str, TestPredictions], table: dict[str, HeadScores], drawn: Resamples, level: float
) -> list[Pair]:
    """Every pair of heads, the better-ranked first, tested and Holm-adjusted as one family."""
    ranked = sorted(table, key=lambda h: -table[h].test_accuracy)
    y_true = predictions[ranked[0]].true
    tests = []
    for a, b in itertools.combinations(ranked, 2):
        pred_a, pred_b = predictions[a].predicted, predictions[b].predicted
        tests.append(
            (
                a,
                b,
                table[a].test_accuracy - table[b].test_accuracy,
                bootstrap_difference(y_true, pred_a, pred_b, drawn, level),
                mcnemar_exact(pred_a == y_true, pred_b == y_true),
            )
        )
    adjusted = holm([m["p_value"] for *_, m in tests])
    pairs = []
    for (a, b, difference, ci, m), p_holm in zip(tests, adjusted, strict=True):
        winner = (a if difference > 0 else b) if all(_readings(p_holm, ci, level)) else None
        pairs.append(Pair(a, b, difference, ci, m["a_only"], m["b_only"], m["p_value"], p_holm, winner))
    return pairs


def _readings(p_holm: float, interval: tuple[float, float], level: float) -> tuple[bool, bool]:
    """Whether the adjusted p-value, and whether the interval, say that two heads differ."""
    return p_holm < 1 - level, not interval[0] <= 0 <= interval[1]


def render_markdown(result: Comparison) -> str:
    level = round(result.level * 100)
    lines = [
        f"# Head comparison ({result.n_test} test images)",
        "",
        f"Intervals: {level}% paired bootstrap ({result.resamples} resamples, the same for every head).",
        "",
        f"| head | test accuracy [{level}% CI] | macro F1 [{level}% CI] "
        "| log loss | ECE | chosen on valid | fit s | predict ms/img | size |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for head, r in result.ranked():
        acc_lo, acc_hi = r.test_accuracy_ci
        f1_lo, f1_hi = r.test_macro_f1_ci
        lines.append(
            f"| {head} | {r.test_accuracy:.3f} [{acc_lo:.3f}, {acc_hi:.3f}] | "
            f"{r.test_macro_f1:.3f} [{f1_lo:.3f}, {f1_hi:.3f}] | {r.test_log_loss:.3f} | "
            f"{r.test_ece:.3f} | {r.chosen_text()} | {r.fit_seconds:.1f} | {r.predict_ms_per_image:.2f} | "
            f"{_size(r.model_bytes)} |"
        )
    lines += ["", *pairs_markdown(result)]
    return "\n".join(lines) + "\n"


def pairs_rule(result: Comparison) -> str:
    level, alpha = round(result.level * 100), 1 - result.level
    return (
        f"Pairs: accuracy difference (first minus second) with its {level}% paired bootstrap interval, "
        f"exact McNemar p-value, and Holm's adjustment across all {len(result.pairs)} pairs. A winner is "
        f"named only where the adjusted p-value is below {alpha:.2g} and the interval excludes 0."
    )


def pairs_conclusion(result: Comparison) -> str:
    decided = [f"{p.winner} over {p.b if p.winner == p.a else p.a}" for p in result.pairs if p.winner]
    if decided:
        return f"Distinguishable on this test set: {'; '.join(decided)}. Every other pair is not."
    return f"No pair of heads is distinguishable on these {result.n_test} test images."


def pairs_markdown(result: Comparison) -> list[str]:
    """The pairwise table between the rule it applies and what it concludes."""
    level = round(result.level * 100)
    lines = [
        pairs_rule(result),
        "",
        f"| pair | difference [{level}% CI] | only first right | only second right | p | Holm p | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in result.pairs:
        lo, hi = p.difference_ci
        lines.append(
            f"| {p.a} vs {p.b} | {p.accuracy_difference:+.3f} [{lo:+.3f}, {hi:+.3f}] | {p.a_only} | "
            f"{p.b_only} | {p.p_value:.3g} | {p.p_holm:.3g} | {p.verdict(result.level)} |"
        )
    return [*lines, "", pairs_conclusion(result)]


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
