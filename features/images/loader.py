"""Decoding in worker processes: paths in, batches of uint8 tensors out, failures named."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import functional as TF

from ..networks.runtimes import usable_cores
from .preprocessing import Preprocessing
from .reading import read_keyed

# A picklable callable applied to the decoded RGB image before preprocessing (used for
# corruptions); it receives the image and the item's position in the request.
ImageTransform = Callable[[Image.Image, int], Image.Image]


class Reindexed:
    """`transform` told each item's position in another list: `positions[i]` for item i."""

    def __init__(self, transform: ImageTransform, positions: Sequence[int]):
        self.transform, self.positions = transform, positions

    def __call__(self, image: Image.Image, position: int) -> Image.Image:
        return self.transform(image, self.positions[position])


@dataclass
class Batch:
    positions: list[int]  # positions in the request of the images that decoded
    images: torch.Tensor  # (n, 3, crop, crop) uint8
    failures: list[tuple[int, str]]  # (position, reason) for those that did not
    keys: dict[int, str] = field(default_factory=dict)  # position -> SHA-256, for the files hashed here


class ImageDataset(Dataset):
    """Decoded images as uint8 tensors; an image that fails is returned as its reason, never dropped.

    `transform(image, position)` alters the image at the network's input size, after the
    resize and centre crop (corruptions, as ImageNet-C corrupts its 224-pixel crops);
    `to_tensor` replaces the deterministic resize and crop instead (training augmentation).
    The files where the mask `hash` is True are hashed from the bytes decoded, so each is read once;
    the key comes back even when the bytes do not decode ("" when the file cannot be read).
    """

    def __init__(
        self,
        paths: Sequence[str],
        preprocessing: Preprocessing,
        transform: ImageTransform | None = None,
        to_tensor: Callable[[Image.Image], torch.Tensor] | None = None,
        hash: np.ndarray | None = None,
    ):
        if transform is not None and to_tensor is not None:
            raise ValueError("give transform (evaluation inputs) or to_tensor (training inputs), not both")
        self.paths = list(paths)
        self.preprocessing = preprocessing
        self.transform = transform
        self.to_tensor = to_tensor or preprocessing.to_uint8
        self.hash = np.zeros(len(self.paths), bool) if hash is None else np.asarray(hash, bool)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, position: int):
        read = read_keyed(self.paths[position], bool(self.hash[position]))
        if read.image is None:
            return position, None, read.error, read.key
        if self.transform is not None:
            image = self.transform(self.preprocessing.geometry(read.image), position)
            return position, TF.pil_to_tensor(image), None, read.key
        return position, self.to_tensor(read.image), None, read.key


def collate(items) -> Batch:
    good = [(pos, tensor) for pos, tensor, _, _ in items if tensor is not None]
    failures = [(pos, reason) for pos, tensor, reason, _ in items if tensor is None]
    images = torch.stack([t for _, t in good]) if good else torch.empty(0, dtype=torch.uint8)
    keys = {pos: key for pos, _, _, key in items if key is not None}
    return Batch([pos for pos, _ in good], images, failures, keys)


def default_num_workers(device: torch.device) -> int:
    """Decoder processes: many for a GPU, few for a CPU that the network already fills.

    On the CPU a Caltech image costs ~1 ms to decode and resize against ~20 ms of bf16
    ResNet-50, and a decoder process preempts the network's OpenMP threads, whose
    barriers then stall: below 4 cores decoding inline is as fast (bench/extract.py).
    """
    cores = usable_cores()
    if device.type == "cuda":
        return min(8, cores)
    return cores // 4


def make_loader(
    paths: Sequence[str],
    preprocessing: Preprocessing,
    batch_size: int,
    num_workers: int,
    pin_memory: bool = False,
    transform: ImageTransform | None = None,
    hash: np.ndarray | None = None,
) -> DataLoader:
    return DataLoader(
        ImageDataset(paths, preprocessing, transform, hash=hash),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers else None,
    )
