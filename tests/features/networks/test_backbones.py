"""create_backbone / create_extractor: weights kinds, offline failure, bad arguments."""

from __future__ import annotations

from urllib.error import URLError

import pytest
import torch

from features.exceptions import ConfigError, WeightsUnavailableError
from features.networks.backbones import create_backbone
from features.networks.extractor import create_extractor
from features.networks.torchvision_models import weights_cache_file


def test_resnet50_is_cut_at_the_pool():
    backbone = create_backbone("resnet50", "none", resize=64, crop=64)
    assert backbone.dim == 2048
    with torch.inference_mode():
        out = backbone.model(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 2048)
    assert (out >= 0).all(), "pooled ReLU features are non-negative"


def test_random_init_is_seeded():
    a, b, c = (create_backbone("resnet18", "none", seed=s) for s in (0, 0, 1))
    wa, wb, wc = (m.model.conv1.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.weights_id == "random-init(seed=0)"


def test_enum_weights_use_their_own_transforms_and_can_be_overridden(monkeypatch):
    from torchvision.models import ResNet50_Weights

    monkeypatch.setattr(
        ResNet50_Weights.IMAGENET1K_V2.__class__, "get_state_dict", lambda self, **kw: create_backbone_state()
    )
    backbone = create_backbone("resnet50", "IMAGENET1K_V2")
    assert (backbone.preprocessing.resize, backbone.preprocessing.crop) == (232, 224)
    assert backbone.weights_id == "ResNet50_Weights.IMAGENET1K_V2"
    assert create_backbone("resnet50", "IMAGENET1K_V2", resize=300, crop=256).preprocessing.crop == 256


def create_backbone_state():
    from torchvision.models import resnet50

    return resnet50().state_dict()


def test_offline_enum_fails_before_any_work_and_names_the_cache_file(tmp_path, monkeypatch):
    from torchvision.models import ResNet50_Weights

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    expected = weights_cache_file(ResNet50_Weights.IMAGENET1K_V2)
    with pytest.raises(WeightsUnavailableError) as info:
        create_extractor("resnet50", "IMAGENET1K_V2", device="cpu")
    message = str(info.value)
    assert str(expected) in message and "none" in message and "checkpoint" in message


def test_local_checkpoint_is_loaded_and_hashed(tmp_path):
    source = create_backbone("resnet18", "none", seed=7)
    model = source.model
    model.fc = torch.nn.Linear(512, 3)  # a fine-tuned classifier of another size is ignored
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    loaded = create_backbone("resnet18", path)
    assert torch.equal(loaded.model.conv1.weight, source.model.conv1.weight)
    assert loaded.weights_id.startswith("checkpoint(sha256=")


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "r18.pt"
    torch.save(create_backbone("resnet18", "none").model.state_dict(), path)
    with pytest.raises(ConfigError, match="does not fit"):
        create_backbone("resnet50", path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arch": "vgg16"}, "arch: got 'vgg16'; choose a torchvision classifier"),
        ({"weights": "IMAGENET9K"}, r"choose from \['IMAGENET1K_V1', 'IMAGENET1K_V2'"),
        ({"weights": "missing/ckpt.pt"}, "does not exist"),
        ({"precision": "fp8"}, r"precision: got 'fp8'; choose from \['auto', 'fp32', 'bf16', 'int8'\]"),
        ({"device": "tpu"}, "device: got 'tpu'"),
    ],
)
def test_bad_arguments_name_the_value_and_the_choices(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        create_extractor(**{"weights": "none", **kwargs})


def test_fingerprint_covers_preprocessing_and_precision():
    base = create_extractor(weights="none", device="cpu", precision="fp32", resize=64, crop=64)
    other_crop = create_extractor(weights="none", device="cpu", precision="fp32", resize=64, crop=56)
    other_seed = create_extractor(weights="none", device="cpu", precision="fp32", resize=64, crop=64, seed=1)
    assert len({base.fingerprint, other_crop.fingerprint, other_seed.fingerprint}) == 3
