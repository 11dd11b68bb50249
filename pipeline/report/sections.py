"""The report's sections, one per analysis, built from the analyses' typed results."""

from __future__ import annotations

from pathlib import Path

from ..analysis.compare import Comparison, pairs_conclusion, pairs_rule
from ..analysis.confusion import ConfusionResult
from ..analysis.curves import CurvesResult
from ..analysis.near_duplicates import LeakageResult
from ..analysis.pca import PCAResult
from ..analysis.robustness import RobustnessResult
from .page import image_tag, paragraph, section, table


def comparison_section(result: Comparison, figures: Path) -> str:
    level = round(result.level * 100)
    header = ["head", "test accuracy", f"{level}% CI", "macro F1", f"{level}% CI", "log loss", "ECE",
              "chosen on valid", "fit s", "predict ms/img", "size MB"]  # fmt: skip
    rows = [
        [
            h,
            f"{r.test_accuracy:.3f}",
            "{:.3f} to {:.3f}".format(*r.test_accuracy_ci),
            f"{r.test_macro_f1:.3f}",
            "{:.3f} to {:.3f}".format(*r.test_macro_f1_ci),
            f"{r.test_log_loss:.3f}",
            f"{r.test_ece:.3f}",
            r.chosen_text(),
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
        image_tag(figures / "heads.png", "accuracy and macro F1 per head"),
        paragraph(pairs_rule(result)),
        table(
            [
                "pair",
                "difference",
                f"{level}% CI",
                "only first right",
                "only second right",
                "p",
                "Holm p",
                "verdict",
            ],  # fmt: skip
            [
                [
                    f"{p.a} vs {p.b}",
                    f"{p.accuracy_difference:+.3f}",
                    "{:+.3f} to {:+.3f}".format(*p.difference_ci),
                    p.a_only,
                    p.b_only,
                    f"{p.p_value:.3g}",
                    f"{p.p_holm:.3g}",
                    p.verdict(result.level),
                ]  # fmt: skip
                for p in result.pairs
            ],
        ),
        paragraph(pairs_conclusion(result)),
        image_tag(figures / "pairs.png", "pairwise accuracy differences"),
        paragraph(
            "Calibration: on the test images, how often each head is right at each confidence. "
            "Bars on the diagonal are perfectly calibrated; the ECE is the gap weighted by bin size."
        ),
        image_tag(figures / "reliability.png", "reliability diagrams"),
    )


def curves_section(result: CurvesResult, figure: Path) -> str:
    sizes = list(dict.fromkeys(p.per_class for points in result.heads.values() for p in points))
    level = round(result.level * 100)
    rows = []
    for head, points in result.heads.items():
        by_size = {p.per_class: p for p in points}
        rows.append(
            [head]
            + [
                f"{by_size[k].accuracy:.3f} ({by_size[k].ci[0]:.3f} to {by_size[k].ci[1]:.3f})"
                if k in by_size
                else "-"
                for k in sizes
            ]
        )
    return section(
        "Learning curves",
        "curves",
        paragraph(
            f"Test accuracy against labelled train images per class, the mean of {result.draws} seeded draws "
            f"(the same draws for every head), with {level}% paired bootstrap intervals over the "
            f"{result.n_test} test images. Fitted on the cached embeddings: no image is embedded again."
        ),
        table(["head", *[f"{k} per class" if k else "all" for k in sizes]], rows),
        image_tag(figure, "learning curves"),
        *label_budget(result),
        *[f'<p class="note">{n}</p>' for n in result.notes],
    )


def label_budget(result: CurvesResult) -> list[str]:
    """The forecast table: each head's curve, its accuracy at 2x and 5x the labels, the labels a
    target needs, and the backtest error beside it."""
    if not result.forecast:
        return []
    first = next(iter(result.forecast.values()))
    factors, targets = list(first.at), list(first.targets)
    rows = []
    for head, f in result.forecast.items():
        b = result.backtest[head]
        at = [
            f"{v['accuracy']:.3f} ({v['interval'][0]:.3f} to {v['interval'][1]:.3f})" for v in f.at.values()
        ]
        reach = [
            f"{v['labels_per_class']:.0f}" if v["labels_per_class"] else "not reached"
            for v in f.targets.values()
        ]
        error = f"{b.mean_absolute_error:.3f} (fitted up to {b.fitted_up_to:.0f})" if b.errors else b.note
        rows.append([head, f.curve, f"{f.ceiling:.3f}", f"{f.labels_per_class:.0f}", *at, *reach, error])
    return [
        paragraph(
            "Label budget: the curve chosen by BIC for each head (a saturating power law a - b n^-c, or "
            "1 - b n^-c), its test accuracy at 2x and 5x the labels per class the train split has "
            "(in brackets: the same curve fitted to each draw alone), the labels per class it needs to "
            "reach each target, and its backtest: fitted on the points up to half the labels, its mean "
            "absolute error on the points above. Trust a forecast about as far as its backtest error."
        ),
        table(
            [
                "head",
                "curve",
                "ceiling",
                "labels per class now",
                *[f"accuracy at {k}" for k in factors],
                *[f"labels for {t}" for t in targets],
                "backtest error",
            ],
            rows,
        ),  # fmt: skip
    ]


def leakage_section(result: LeakageResult, figures: Path) -> str:
    rows = [
        [f"{p.similarity:.3f}", f"{p.a} ({p.split_a})", f"{p.b} ({p.split_b})"]
        for p in result.cross_split[:50]
    ]
    advice = (
        "prepare kept each group in one split (data.near_duplicates.group: true)."
        if result.grouped
        else "To keep each group in one split: dvc exp run -S data.near_duplicates.group=true."
    )
    return section(
        "Near-duplicates and leakage",
        "leakage",
        paragraph(
            f"{result.pairs} pairs of near-duplicate images (resized or re-encoded copies of one picture) "
            f"in {result.groups} groups among {result.n_images} images: cosine above {result.threshold} "
            f"between embeddings PCA-whitened on {result.components} components. "
            f"{len(result.cross_split)} pairs sit in different splits, so a test image may have its copy "
            f"in train. {advice}"
        ),
        table(["similarity", "image", "near-duplicate"], rows),
        image_tag(figures / "pairs.png", "near-duplicate pairs across splits"),
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
        rows.append(
            [
                h,
                f"{r.clean:.3f}",
                "-" if worst is None else f"{worst:.3f}",
                *(_strongest(r.adversarial, kind) for kind in ("fgsm", "pgd")),
            ]  # fmt: skip
        )
    return section(
        "Robustness",
        "robustness",
        paragraph(
            "All heads see the same perturbed inputs (same seeds). Corrupted images are embedded "
            "through the feature store under keys of their own, so a re-run computes nothing. "
            "Corruptions use the ImageNet-C severity constants (Hendrycks & Dietterich, 2019) on the "
            "image as the network sees it; occlusion is ours. Attacks: FGSM, and PGD with random "
            "start and step 2.5 eps / steps; success rate is the share of the images a head got "
            "right that the attack turns wrong."
        ),
        table(
            [
                "head",
                "clean test accuracy",
                "worst corruption accuracy",
                "strongest FGSM: accuracy, success",
                "strongest PGD: accuracy, success",
            ],  # fmt: skip
            rows,
        ),
        image_tag(figures / "feature.png", "feature-space perturbations"),
        image_tag(figures / "image.png", "image corruptions"),
        image_tag(figures / "adversarial.png", "adversarial attacks: accuracy"),
        image_tag(figures / "adversarial_success.png", "adversarial attacks: success rate"),
        *[f'<p class="note">{n}</p>' for n in result.notes],
    )


def _strongest(attacks, kind: str) -> str:
    """The largest eps of one attack: accuracy and success rate, or '-' without attacks."""
    scores = getattr(attacks, kind, None) or {}
    if not scores:
        return "-"
    eps = max(scores, key=float)
    rate = scores[eps].success_rate
    return f"{scores[eps].accuracy:.3f}, {'-' if rate is None else f'{rate:.0%}'} at eps {eps}"


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
