"""Stage `report`: reports/index.html, everything a reader needs on one self-contained page."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from ..embeddings import load_embeddings
from ..report import image_tag, page, paragraph, section, table


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def run(embeddings_path: Path, results: dict[str, tuple[Path, Path]], out: Path) -> Path:
    """`results` maps compare/pca/robustness/confusion to (metrics JSON, its figures)."""
    emb = load_embeddings(embeddings_path)
    (compare, compare_png), (pca, pca_dir), (robustness, robust_dir), (confusion, confusion_dir) = (
        (_load(results[k][0]), results[k][1]) for k in ("compare", "pca", "robustness", "confusion")
    )
    heads = list(compare["heads"])
    splits = Counter(emb.split)
    level = round(compare["level"] * 100)

    ranked = sorted(compare["heads"].items(), key=lambda kv: -kv[1]["test_accuracy"])
    comparison = section(
        "Comparison",
        "comparison",
        paragraph(
            f"Every head on the same {compare['n_test']} test images. Intervals are {level}% paired "
            f"bootstrap intervals ({compare['resamples']} resamples shared by all heads)."
        ),
        table(
            [
                "head",
                "test accuracy",
                f"{level}% CI",
                "macro F1",
                f"{level}% CI",
                "log loss",
                "ECE",
                "fit s",
                "predict ms/img",
                "size MB",
            ],
            [
                [
                    h,
                    f"{r['test_accuracy']:.3f}",
                    "{:.3f} to {:.3f}".format(*r["test_accuracy_ci"]),
                    f"{r['test_macro_f1']:.3f}",
                    "{:.3f} to {:.3f}".format(*r["test_macro_f1_ci"]),
                    f"{r['test_log_loss']:.3f}",
                    f"{r['test_ece']:.3f}",
                    f"{r['fit_seconds']:.1f}",
                    f"{r['predict_ms_per_image']:.2f}",
                    f"{r['model_bytes'] / 2**20:.2f}",
                ]
                for h, r in ranked
            ],
            "comparison",
        ),
        image_tag(compare_png, "accuracy and macro F1 per head"),
        paragraph("Exact McNemar tests: does one head get different test images right than another?"),
        table(
            ["pair", "only the first right", "only the second right", "p-value"],
            [[p, m["a_only"], m["b_only"], f"{m['p_value']:.3g}"] for p, m in compare["mcnemar"].items()],
        ),
    )

    marks = ", ".join(f"{float(f):.0%} of variance in {n}" for f, n in pca["components_for_variance"].items())
    pca_part = section(
        "PCA of the embeddings",
        "pca",
        paragraph(f"Fitted on the {pca['n_train']} train embeddings and applied to all: {marks} components."),
        image_tag(pca_dir / "variance.png", "explained variance"),
        image_tag(pca_dir / "scatter.png", "first two components by class"),
        image_tag(pca_dir / "accuracy.png", "accuracy against components kept"),
    )

    rows = []
    for h, r in robustness["heads"].items():
        worst_image = min((v["accuracy"] for sev in r["image"].values() for v in sev.values()), default=None)
        adv = r.get("adversarial") or {}
        strongest = max(adv.get("fgsm", {}), key=float, default=None)
        rows.append(
            [
                h,
                f"{r['clean']:.3f}",
                "-" if worst_image is None else f"{worst_image:.3f}",
                "-" if strongest is None else f"{adv['fgsm'][strongest]['accuracy']:.3f} at eps {strongest}",
            ]
        )
    robust = section(
        "Robustness",
        "robustness",
        paragraph(
            "All heads see the same perturbed inputs (same seeds). Corrupted images are embedded "
            "through the feature store under keys of their own, so a re-run computes nothing."
        ),
        table(["head", "clean test accuracy", "worst corruption accuracy", "strongest FGSM"], rows),
        image_tag(robust_dir / "feature.png", "feature-space perturbations"),
        image_tag(robust_dir / "image.png", "image corruptions"),
        image_tag(robust_dir / "adversarial.png", "adversarial attacks"),
        *[f'<p class="note">{n}</p>' for n in robustness.get("notes", [])],
    )

    per_head = []
    for h in heads:
        c = confusion["heads"][h]
        pairs = table(
            ["true", "predicted", "count"],
            [[p["true"], p["predicted"], p["count"]] for p in c["most_confused"]],
        )
        opened = " open" if h == ranked[0][0] else ""  # the best head unfolded
        per_head.append(
            f"<details{opened}><summary>{h}: test accuracy {c['test_accuracy']:.3f}</summary>"
            + pairs
            + "".join(
                image_tag(confusion_dir / f"{h}_{kind}.png", f"{h} {kind}")
                for kind in ("matrix", "per_class", "misclassified", "confident")
            )
            + "</details>"
        )
    issues = confusion["label_issues"]
    dis = confusion["disagreement"]
    confusion_part = section(
        "Confusion",
        "confusion",
        *per_head,
        paragraph(
            f"The heads disagree on {dis['images']} test images; all of them are wrong on {dis['all_wrong']}."
        ),
        image_tag(confusion_dir / "disagreements.png", "disagreements"),
        paragraph(
            "Likely label issues, from out-of-fold probabilities of a linear model (confident learning):"
        ),
        table(
            ["image", "label", "looks like", "p(label)"],
            [[i["path"], i["label"], i["suggested"], f"{i['label_probability']:.3f}"] for i in issues],
        ),
        image_tag(confusion_dir / "label_issues.png", "likely label issues"),
    )

    spec = emb.spec
    subtitle = (
        f"{len(emb.paths)} images in {len(emb.classes)} classes (train {splits['train']}, valid "
        f"{splits['valid']}, test {splits['test']}); features: {spec['arch']} {spec['weights']}, "
        f"{spec['layer']}, {spec['precision']}, fingerprint {emb.fingerprint}."
    )
    nav = [
        ("Comparison", "comparison"),
        ("PCA", "pca"),
        ("Robustness", "robustness"),
        ("Confusion", "confusion"),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        page(
            "Which head? Results of this run", subtitle, nav, [comparison, pca_part, robust, confusion_part]
        ),
        encoding="utf-8",
    )
    print(f"report: {out} ({out.stat().st_size / 2**20:.1f} MB, {len(heads)} heads)")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline report", description=__doc__)
    parser.add_argument("--embeddings", type=Path, required=True)
    for name in ("compare", "pca", "robustness", "confusion"):
        parser.add_argument(f"--{name}", type=Path, nargs=2, required=True, metavar=("JSON", "FIGURES"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    results = {name: tuple(getattr(args, name)) for name in ("compare", "pca", "robustness", "confusion")}
    run(args.embeddings, results, args.out)
