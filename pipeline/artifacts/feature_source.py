"""Which extractor made a head's input vectors, recorded with the head so it is never fed others."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from features import Extractor, create_extractor

from ..exceptions import PipelineError


@dataclass(frozen=True)
class FeatureSource:
    """The extractor's fingerprint and spec, and the `create_extractor` arguments that rebuild it."""

    fingerprint: str
    spec: dict
    recipe: dict = field(default_factory=dict)  # arch, weights, seed, resize, crop, precision (resolved)

    @classmethod
    def of(cls, extractor: Extractor) -> FeatureSource:
        return cls(extractor.fingerprint, extractor.spec, dict(extractor.recipe or {}))

    def describe(self) -> str:
        spec = self.spec
        prep = spec.get("preprocessing", {})
        return (
            f"{self.fingerprint} ({spec.get('arch')} {spec.get('weights')}, resize {prep.get('resize')} "
            f"crop {prep.get('crop')}, {spec.get('runtime', 'torch')} {spec.get('precision')})"
        )

    def extractor(self, device: str = "auto", exports=None) -> Extractor:
        """The extractor again, on `device` (a CPU runtime's export kept in `exports`); stops if it
        no longer makes the same vectors."""
        if not self.recipe:
            raise PipelineError(
                f"features {self.fingerprint} were recorded without the settings that rebuild their "
                "extractor (made by an older version): run `dvc repro` to re-embed and retrain"
            )
        extractor = create_extractor(device=device, exports=exports, **self.recipe)
        if extractor.fingerprint != self.fingerprint:
            again = FeatureSource.of(extractor)
            raise PipelineError(
                f"the extractor rebuilt from {self.recipe} is {again.describe()}, not the "
                f"{self.describe()} the head was trained on (a checkpoint file changed, or "
                "torchvision's weights did): retrain the head (`dvc repro`)"
            )
        return extractor

    def to_json(self) -> dict:
        return asdict(self)
