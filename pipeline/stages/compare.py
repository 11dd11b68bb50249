"""Stage `compare`: every enabled head on the same test rows, with paired statistics."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from ..config import CompareParams
from ..heads import read_enabled_heads
from ..params import read_block
from ..plots import plot_comparison
from ..predictions import read_all_heads
from ..stats import bootstrap_indices, bootstrap_interval, mcnemar_exact


def run(
    heads: list[str],
    params: CompareParams,
    metrics_tpl: str,
    predictions_tpl: str,
    out_json: Path,
    out_md: Path,
    out_png: Path,
) -> dict:
    predictions = read_all_heads(heads, predictions_tpl)
    y_true = predictions[heads[0]].true
    indices = bootstrap_indices(len(y_true), params.resamples, params.seed)
    table = {}
    for head in heads:
        y_pred = predictions[head].predicted
        metrics = json.loads(Path(metrics_tpl.format(head=head)).read_text())
        test = metrics["test"]
        table[head] = {
            "test_accuracy": test["accuracy"],
            "test_accuracy_ci": bootstrap_interval(y_true, y_pred, indices, "accuracy", params.level),
            "test_macro_f1": test["macro_f1"],
            "test_macro_f1_ci": bootstrap_interval(y_true, y_pred, indices, "macro_f1", params.level),
            "test_log_loss": test["log_loss"],
            "test_ece": test["ece"],
            "fit_seconds": metrics["fit_seconds"],
            "predict_ms_per_image": metrics["predict_ms_per_image"],
            "model_bytes": metrics["model_bytes"],
        }
    correct = {h: predictions[h].predicted == y_true for h in heads}
    mcnemar = {
        f"{a} vs {b}": mcnemar_exact(correct[a], correct[b]) for a, b in itertools.combinations(heads, 2)
    }
    result = {
        "n_test": len(y_true),
        "resamples": params.resamples,
        "level": params.level,
        "heads": table,
        "mcnemar": mcnemar,
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=2))
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(render_markdown(result))
    plot_comparison(table, params.level, out_png)
    print(render_markdown(result))
    return result


def render_markdown(result: dict) -> str:
    level = round(result["level"] * 100)
    lines = [
        f"# Head comparison ({result['n_test']} test images)",
        "",
        f"Intervals: {level}% paired bootstrap ({result['resamples']} resamples, the same for every head).",
        "",
        f"| head | test accuracy [{level}% CI] | macro F1 [{level}% CI] "
        "| log loss | ECE | fit s | predict ms/img | size |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ranked = sorted(result["heads"].items(), key=lambda kv: -kv[1]["test_accuracy"])
    for head, r in ranked:
        acc_lo, acc_hi = r["test_accuracy_ci"]
        f1_lo, f1_hi = r["test_macro_f1_ci"]
        lines.append(
            f"| {head} | {r['test_accuracy']:.3f} [{acc_lo:.3f}, {acc_hi:.3f}] | "
            f"{r['test_macro_f1']:.3f} [{f1_lo:.3f}, {f1_hi:.3f}] | {r['test_log_loss']:.3f} | "
            f"{r['test_ece']:.3f} | {r['fit_seconds']:.1f} | {r['predict_ms_per_image']:.2f} | "
            f"{_size(r['model_bytes'])} |"
        )
    lines += [
        "",
        "Exact McNemar test on the test rows (A only / B only: rows one head gets right, the other wrong):",
        "",
        "| pair | A only | B only | p-value |",
        "|---|---|---|---|",
    ]
    for pair, m in result["mcnemar"].items():
        lines.append(f"| {pair} | {m['a_only']} | {m['b_only']} | {m['p_value']:.3g} |")
    return "\n".join(lines) + "\n"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline compare", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--metrics", required=True, help="path template with {head}")
    parser.add_argument("--predictions", required=True, help="path template with {head}")
    parser.add_argument("--out-json", type=Path, required=True)
    parser.add_argument("--out-md", type=Path, required=True)
    parser.add_argument("--out-png", type=Path, required=True)
    args = parser.parse_args(argv)
    heads = read_enabled_heads(args.params)
    run(
        heads,
        read_block("compare", CompareParams, args.params),
        args.metrics,
        args.predictions,
        args.out_json,
        args.out_md,
        args.out_png,
    )
