"""Which extractor made a head's input vectors, recorded with the head so it is never fed others."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from features.networks.backbones import Backbone, create_backbone
from features.networks.extractor import Extractor, ExtractorConfig

from ..exceptions import PipelineError

BACKBONE_ARGS = ("arch", "weights", "seed", "resize", "crop")  # the recipe's part that builds the network


@dataclass(frozen=True)
class FeatureSource:
    """The extractor's fingerprint and spec, and the config that rebuilds it, as JSON keeps it."""

    fingerprint: str
    spec: dict
    recipe: dict = field(default_factory=dict)  # ExtractorConfig.recipe(): precision, runtime resolved

    @classmethod
    def of(cls, extractor: Extractor) -> FeatureSource:
        recipe = extractor.config.recipe() if extractor.config else {}
        return cls(extractor.fingerprint, extractor.spec, recipe)

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
        extractor = ExtractorConfig(**self._recipe()).create(device, exports)
        if extractor.fingerprint != self.fingerprint:
            self._changed(FeatureSource.of(extractor).describe())
        return extractor

    def backbone(self) -> Backbone:
        """The torch network alone, in fp32 on the CPU, without the runtime that ran it (an export
        takes it from here); stops if its weights or preprocessing are no longer the recorded ones."""
        recipe = self._recipe()
        backbone = create_backbone(**{k: recipe[k] for k in BACKBONE_ARGS if k in recipe})
        preprocessing = json.loads(json.dumps(backbone.preprocessing.as_dict()))  # as the spec stores it
        if backbone.weights_id != self.spec.get("weights") or preprocessing != self.spec.get("preprocessing"):
            self._changed(
                f"{backbone.arch} with weights {backbone.weights_id}, preprocessing {preprocessing}"
            )
        return backbone

    def _recipe(self) -> dict:
        if not self.recipe:
            raise PipelineError(
                f"features {self.fingerprint} were recorded without the settings that rebuild their "
                "extractor (made by an older version): run `dvc repro` to re-embed and retrain"
            )
        return self.recipe

    def _changed(self, rebuilt: str) -> None:
        raise PipelineError(
            f"the extractor rebuilt from {self.recipe} is {rebuilt}, not the {self.describe()} the head "
            "was trained on (a checkpoint file changed, or torchvision's weights did): retrain the head "
            "(`dvc repro`)"
        )

    def to_json(self) -> dict:
        return asdict(self)
