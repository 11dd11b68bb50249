"""Constants shared by the features library, kept in one place."""

from __future__ import annotations

# Bump when the meaning of stored vectors changes (preprocessing code, layer cut, ...):
# it is part of every fingerprint, so old vectors are never read under new code.
SCHEMA_VERSION = 1

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

# Transparent pixels are composited onto this colour, so RGBA and RGB copies of a
# picture embed alike and the result never depends on hidden colour values.
ALPHA_BACKGROUND = (255, 255, 255)

# Pillow's own default; larger images are refused as possible decompression bombs.
MAX_IMAGE_PIXELS = 89_478_485

# Used when the weights carry no transforms of their own (random init, checkpoints).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_RESIZE = 256
DEFAULT_CROP = 224

DEFAULT_ARCH = "resnet50"
DEFAULT_WEIGHTS = "IMAGENET1K_V2"
LAYER = "avgpool"

PRECISIONS = ("auto", "fp32", "bf16", "int8")  # int8: ONNX Runtime, calibrated on task images
# Who runs the network (networks/runtimes.py: what `auto` picks). The CPU runtimes embed from one ONNX export.
RUNTIMES = ("auto", "torch", "onnxruntime", "openvino")
CPU_RUNTIMES = ("onnxruntime", "openvino")
DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("local", "ray")  # engines/: this machine, or a Ray cluster
CALIBRATION_IMAGES = 128  # int8: task images its activation ranges are measured on
