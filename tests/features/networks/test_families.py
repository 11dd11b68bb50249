"""Every backbone family: cut at its pooled feature (the classifier it lost, applied to the
features, gives the whole network's logits), preprocessing from the weights' own config,
stages for freezing, and what each refuses at load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from features.exceptions import ConfigError, WeightsUnavailableError
from features.networks import timm_models, torchvision_models
from features.networks.backbones import create_backbone, stage_names
from features.networks.extractor import create_extractor

timm = pytest.importorskip("timm")
lite = pytest.importorskip("efficientnet_lite_pytorch")

TORCHVISION = ["resnet18", "regnet_y_400mf", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_small",
               "densenet121", "vit_b_32", "swin_t"]  # fmt: skip
TIMM = ["timm:resnet18", "timm:convnext_atto", "timm:vit_tiny_patch16_224"]


def _images(crop: int, n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, crop, crop, generator=torch.Generator().manual_seed(0))


def _whole_network(arch: str) -> tuple[nn.Module, nn.Module]:
    """The uncut network of `arch` (random init), and the classifier the cut removes from it."""
    if arch.startswith("timm:"):
        whole = timm.create_model(arch.removeprefix("timm:"), pretrained=False)
        return whole, whole.get_classifier()
    if arch.startswith("efficientnet_lite"):
        whole = lite.EfficientNet.from_name(arch.replace("_", "-"))
        return whole, whole._fc
    whole = torchvision_models.get_model(arch, weights=None)
    return whole, whole.get_submodule(torchvision_models.CUTS[torchvision_models._family(arch)])


@pytest.mark.parametrize("arch", TORCHVISION + TIMM + ["efficientnet_lite0"])
def test_cut_at_the_pooled_feature_before_the_classifier(arch):
    backbone = create_backbone(arch, "none")
    whole, classifier = _whole_network(arch)
    missing, unexpected = whole.load_state_dict(
        {k.removeprefix("net."): v for k, v in backbone.model.state_dict().items()}, strict=False
    )
    assert not unexpected and all(
        name.split(".")[0] in ("fc", "classifier", "heads", "head", "_fc") for name in missing
    )
    crop = backbone.fixed_crop or 64
    x = _images(crop)
    with torch.inference_mode():
        features = backbone.model.eval()(x)
        logits = whole.eval()(x)
        assert features.shape == (2, backbone.dim)
        torch.testing.assert_close(classifier(features), logits, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, nn.Linear) and m.out_features == 1000 for m in backbone.model.modules())


@pytest.mark.parametrize("arch", TORCHVISION + TIMM + ["efficientnet_lite0"])
def test_stages_cover_the_network_in_order(arch):
    backbone = create_backbone(arch, "none")
    groups = backbone.stage_parameters()
    assert groups[0][0] == "stem" and all(params for name, params in groups if name != "neck")
    grouped = [id(p) for _, params in groups for p in params]
    assert sorted(grouped) == sorted(id(p) for p in backbone.model.parameters()), "each parameter once"
    assert list(stage_names(arch)) == backbone.stage_names()


@pytest.mark.parametrize(
    ("arch", "weights", "expected"),
    [
        ("resnet50", "IMAGENET1K_V2", (232, 224, "bilinear", (0.485, 0.456, 0.406))),
        ("convnext_tiny", "IMAGENET1K_V1", (236, 224, "bilinear", (0.485, 0.456, 0.406))),
        ("efficientnet_v2_s", "DEFAULT", (384, 384, "bilinear", (0.485, 0.456, 0.406))),
        ("swin_t", "IMAGENET1K_V1", (232, 224, "bicubic", (0.485, 0.456, 0.406))),
        ("vit_b_16", "IMAGENET1K_V1", (256, 224, "bilinear", (0.485, 0.456, 0.406))),
    ],
)
def test_torchvision_preprocessing_is_the_enums_own(arch, weights, expected, monkeypatch):
    from torchvision.models import get_model
    from torchvision.models._api import WeightsEnum

    monkeypatch.setattr(WeightsEnum, "get_state_dict", lambda self, **kw: get_model(arch).state_dict())
    prep = create_backbone(arch, weights).preprocessing
    assert (prep.resize, prep.crop, prep.interpolation, prep.mean) == expected


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ("timm:resnet18", (235, 224, "bicubic", (0.485, 0.456, 0.406))),  # crop_pct 0.95
        ("timm:vit_base_patch16_clip_224.openai", (248, 224, "bicubic", (0.48145466, 0.4578275, 0.40821073))),
        ("timm:vit_small_patch14_dinov2.lvd142m", (518, 518, "bicubic", (0.485, 0.456, 0.406))),
        ("timm:convnext_tiny.fb_in22k", (256, 224, "bicubic", (0.485, 0.456, 0.406))),  # crop_pct 0.875
    ],
)
def test_timm_preprocessing_is_its_pretrained_cfg(arch, expected):
    prep = create_backbone(arch, "none").preprocessing
    assert (prep.resize, prep.crop, prep.interpolation) == expected[:3]
    np.testing.assert_allclose(prep.mean, expected[3])


def test_lite_weights_are_the_packaged_imagenet_ones():
    backbone = create_backbone("efficientnet_lite0", "DEFAULT")
    prep = backbone.preprocessing
    assert (prep.resize, prep.crop, prep.interpolation, prep.mean, prep.std) == (
        256, 224, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # fmt: skip
    assert backbone.dim == 1280 and backbone.weights_id.startswith(
        "efficientnet-lite0-57934424.pth(sha256=5793442"
    )
    random = create_backbone("efficientnet_lite0", "none")
    assert not torch.equal(backbone.model.net._conv_stem.weight, random.model.net._conv_stem.weight)


def test_timm_offline_names_the_file_and_the_packaged_alternative(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # empty, whatever this machine holds
    monkeypatch.setattr(timm_models, "_reachable", lambda host, port: False)
    with pytest.raises(WeightsUnavailableError) as info:
        create_backbone("timm:resnet18.a1_in1k", "DEFAULT")
    message = str(info.value)
    assert "https://huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors" in message
    assert "efficientnet_lite0" in message and "none" in message


def test_timm_checkpoint_file_is_loaded_and_hashed(tmp_path):
    source = timm.create_model("resnet18", pretrained=False, num_classes=10)
    path = tmp_path / "r18.pth"
    torch.save(source.state_dict(), path)
    backbone = create_backbone("timm:resnet18", str(path))
    assert torch.equal(backbone.model.conv1.weight, source.conv1.weight)
    assert backbone.weights_id.startswith("checkpoint(sha256=")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arch": "timm:no_such_net"}, r"timm has no model 'no_such_net'"),
        ({"arch": "efficientnet_lite7"}, r"the EfficientNet-Lite networks are"),
        ({"arch": "efficientnet_lite0", "weights": "IMAGENET1K_V1"}, r"choose DEFAULT"),
        ({"arch": "vit_b_16", "crop": 112, "resize": 128}, r"vit_b_16 takes 224 px inputs only"),
        (
            {
                "arch": "vit_b_32",
                "precision": "int8",
                "runtime": "onnxruntime",
                "calibration": {"paths": ["a.png"], "keys": ["0" * 64]},
            },
            r"precision int8 quantizes convolutions, and vit_b_32 is a transformer",
        ),
    ],
)
def test_what_cannot_work_is_refused_at_load(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        create_extractor(**{"weights": "none", "device": "cpu", **kwargs})


def test_fingerprints_keep_backbones_apart():
    prints = {
        create_extractor(arch, "none", device="cpu", precision="fp32", runtime="torch").fingerprint
        for arch in ("resnet18", "timm:resnet18", "efficientnet_lite0", "convnext_tiny")
    }
    assert len(prints) == 4


@pytest.mark.slow  # quantizes the network once
def test_int8_that_loses_too_much_is_refused_naming_what_works(tmp_path):
    from features.networks.int8 import Calibration
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    calibration = Calibration.of_files(sorted(SHARED_DATA.rglob("*.jpg"))[::10], 64)
    with pytest.raises(ConfigError, match=r"precision int8 loses too much on this network.*fp32 or bf16"):
        create_extractor(
            "efficientnet_lite0", "DEFAULT", precision="int8", runtime="onnxruntime",
            device="cpu", exports=tmp_path, calibration=calibration,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("arch", "freeze"),
    [("resnet18", "layer2"), ("timm:resnet18", "stage2"), ("efficientnet_lite0", "stage3")],
)
def test_frozen_stages_keep_their_batchnorm_in_eval_mode(arch, freeze):
    backbone = create_backbone(arch, "none")
    names = backbone.stage_names()
    frozen = names[: names.index(freeze) + 1]
    modules = backbone.stage_modules(frozen)
    norms = [m for m in modules if isinstance(m, nn.BatchNorm2d)]
    assert norms, "every frozen stage of these CNNs has BatchNorm layers"
    frozen_params = {id(p) for name, params in backbone.stage_parameters() if name in frozen for p in params}
    every_norm = [m for m in backbone.model.modules() if isinstance(m, nn.BatchNorm2d)]
    inside = [m for m in every_norm if {id(p) for p in m.parameters()} <= frozen_params]
    assert {id(m) for m in norms} == {id(m) for m in inside}
