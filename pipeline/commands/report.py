"""Stage `report`: reports/index.html, everything a reader needs on one self-contained page."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..analysis.compare import Comparison
from ..analysis.confusion import ConfusionResult
from ..analysis.curves import CurvesResult
from ..analysis.near_duplicates import LeakageResult
from ..analysis.pca import PCAResult
from ..analysis.robustness import RobustnessResult
from ..artifacts.embeddings import load_embeddings
from ..report.page import page
from ..report.sections import (
    comparison_section,
    confusion_section,
    curves_section,
    leakage_section,
    pca_section,
    robustness_section,
)
from .arguments import parse_stage

RESULTS = {
    "compare": Comparison,
    "curves": CurvesResult,
    "leakage": LeakageResult,
    "pca": PCAResult,
    "robustness": RobustnessResult,
    "confusion": ConfusionResult,
}


def run(*, embeddings_path: Path, results: dict[str, tuple[Path, Path]], out: Path) -> Path:
    """`results` maps each of RESULTS to (its metrics JSON, its figure or folder of figures)."""
    emb = load_embeddings(embeddings_path)
    loaded = {name: cls.read(results[name][0]) for name, cls in RESULTS.items()}
    figures = {name: results[name][1] for name in RESULTS}
    comparison = loaded["compare"]
    sections = [
        comparison_section(comparison, figures["compare"]),
        curves_section(loaded["curves"], figures["curves"]),
        leakage_section(loaded["leakage"], figures["leakage"]),
        pca_section(loaded["pca"], figures["pca"]),
        robustness_section(loaded["robustness"], figures["robustness"]),
        confusion_section(loaded["confusion"], figures["confusion"], best=comparison.ranked()[0][0]),
    ]
    splits, spec = Counter(emb.split), emb.spec
    subtitle = (
        f"{len(emb.paths)} images in {len(emb.classes)} classes (train {splits['train']}, valid "
        f"{splits['valid']}, test {splits['test']}); features: {spec['arch']} {spec['weights']}, "
        f"{spec['layer']}, {spec['precision']}, fingerprint {emb.fingerprint}."
    )
    nav = [
        ("Comparison", "comparison"),
        ("Learning curves", "curves"),
        ("Leakage", "leakage"),
        ("PCA", "pca"),
        ("Robustness", "robustness"),
        ("Confusion", "confusion"),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page("Which head? Results of this run", subtitle, nav, sections), encoding="utf-8")
    print(f"report: {out} ({out.stat().st_size / 2**20:.1f} MB, {len(comparison.heads)} heads)")
    return out


def main(argv: list[str] | None = None) -> None:
    def results(parser) -> None:
        for name in RESULTS:
            parser.add_argument(f"--{name}", type=Path, nargs=2, required=True, metavar=("JSON", "FIGURES"))

    _, args = parse_stage("report", __doc__, argv, paths={"embeddings": "", "out": ""}, extra=results)
    run(
        embeddings_path=args.embeddings,
        results={name: tuple(getattr(args, name)) for name in RESULTS},
        out=args.out,
    )
