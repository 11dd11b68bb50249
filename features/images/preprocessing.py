"""Evaluation preprocessing: resize the short side, centre-crop, hand over uint8 tensors."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF


@dataclass(frozen=True)
class Preprocessing:
    """Resize the short side, centre-crop, scale to [0, 1], normalise with mean and std.

    Workers do the geometric part on 8-bit data; the extractor normalises on the device.
    """

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"

    def as_dict(self) -> dict:
        return asdict(self)

    def geometry(self, image: Image.Image) -> Image.Image:
        """The image as the network sees it: short side resized, centre-cropped to crop x crop."""
        image = TF.resize(image, self.resize, interpolation=InterpolationMode(self.interpolation))
        return TF.center_crop(image, self.crop)

    def to_uint8(self, image: Image.Image) -> torch.Tensor:
        """An RGB PIL image to a (3, crop, crop) uint8 tensor."""
        return TF.pil_to_tensor(self.geometry(image))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) to normalised float32, on the images' device."""
        mean = torch.tensor(self.mean, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, 3, 1, 1)
        return (images.float() / 255.0 - mean) / std
