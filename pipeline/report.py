"""The report's sections, one per analysis, built from the analyses' typed results."""

from __future__ import annotations

from pathlib import Path

from .analysis.compare import Comparison
from .analysis.confusion import ConfusionResult
from .analysis.pca import PCAResult
from .analysis.robustness import RobustnessResult
from .page import image_tag, paragraph, section, table


def comparison_section(result: Comparison, figure: Path) -> str:
    level = round(result.level * 100)
    header = ["head", "test accuracy", f"{level}% CI", "macro F1", f"{level}% CI", "log loss", "ECE",
              "fit s", "predict ms/img", "size MB"]  # fmt: skip
    rows = [
        [
            h,
            f"{r.test_accuracy:.3f}",
            "{:.3f} to {:.3f}".format(*r.test_accuracy_ci),
            f"{r.test_macro_f1:.3f}",
            "{:.3f} to {:.3f}".format(*r.test_macro_f1_ci),
            f"{r.test_log_loss:.3f}",
            f"{r.test_ece:.3f}",
            f"{r.fit_seconds:.1f}",
            f"{r.predict_ms_per_image:.2f}",
            f"{r.model_bytes / 2**20:.2f}",
        ]
        for h, r in result.ranked()
    ]
    return section(
        "Comparison",
        "comparison",
        paragraph(
            f"Every head on the same {result.n_test} test images. Intervals are {level}% paired "
            f"bootstrap intervals ({result.resamples} resamples shared by all heads)."
        ),
        table(header, rows, "comparison"),
        image_tag(figure, "accuracy and macro F1 per head"),
        paragraph("Exact McNemar tests: does one head get different test images right than another?"),
        table(
            ["pair", "only the first right", "only the second right", "p-value"],
            [[p, m.a_only, m.b_only, f"{m.p_value:.3g}"] for p, m in result.mcnemar.items()],
        ),
    )


def pca_section(result: PCAResult, figures: Path) -> str:
    marks = ", ".join(f"{float(f):.0%} of variance in {n}" for f, n in result.components_for_variance.items())
    return section(
        "PCA of the embeddings",
        "pca",
        paragraph(f"Fitted on the {result.n_train} train embeddings and applied to all: {marks} components."),
        image_tag(figures / "variance.png", "explained variance"),
        image_tag(figures / "scatter.png", "first two components by class"),
        image_tag(figures / "accuracy.png", "accuracy against components kept"),
    )


def robustness_section(result: RobustnessResult, figures: Path) -> str:
    rows = []
    for h, r in result.heads.items():
        worst = min((s.accuracy for levels in r.image.values() for s in levels.values()), default=None)
        fgsm = r.adversarial.fgsm if r.adversarial else {}
        strongest = max(fgsm, key=float, default=None)
        rows.append(
            [
                h,
                f"{r.clean:.3f}",
                "-" if worst is None else f"{worst:.3f}",
                "-" if strongest is None else f"{fgsm[strongest].accuracy:.3f} at eps {strongest}",
            ]
        )
    return section(
        "Robustness",
        "robustness",
        paragraph(
            "All heads see the same perturbed inputs (same seeds). Corrupted images are embedded "
            "through the feature store under keys of their own, so a re-run computes nothing."
        ),
        table(["head", "clean test accuracy", "worst corruption accuracy", "strongest FGSM"], rows),
        image_tag(figures / "feature.png", "feature-space perturbations"),
        image_tag(figures / "image.png", "image corruptions"),
        image_tag(figures / "adversarial.png", "adversarial attacks"),
        *[f'<p class="note">{n}</p>' for n in result.notes],
    )


def confusion_section(result: ConfusionResult, figures: Path, best: str) -> str:
    per_head = []
    for h, c in result.heads.items():
        pairs = table(
            ["true", "predicted", "count"], [[p.true, p.predicted, p.count] for p in c.most_confused]
        )
        opened = " open" if h == best else ""  # the best head unfolded
        per_head.append(
            f"<details{opened}><summary>{h}: test accuracy {c.test_accuracy:.3f}</summary>"
            + pairs
            + "".join(
                image_tag(figures / f"{h}_{kind}.png", f"{h} {kind}")
                for kind in ("matrix", "per_class", "misclassified", "confident")
            )
            + "</details>"
        )
    dis = result.disagreement
    return section(
        "Confusion",
        "confusion",
        *per_head,
        paragraph(
            f"The heads disagree on {dis.images} test images; all of them are wrong on {dis.all_wrong}."
        ),
        image_tag(figures / "disagreements.png", "disagreements"),
        paragraph(
            "Likely label issues, from out-of-fold probabilities of a linear model (confident learning):"
        ),
        table(
            ["image", "label", "looks like", "p(label)"],
            [[i.path, i.label, i.suggested, f"{i.label_probability:.3f}"] for i in result.label_issues],
        ),
        image_tag(figures / "label_issues.png", "likely label issues"),
    )
