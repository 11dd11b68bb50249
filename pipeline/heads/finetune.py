"""Fine-tuned head: the whole backbone with a new classifier, trained end to end on the images."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.utils.data import DataLoader, WeightedRandomSampler
from torchvision.transforms import v2
from tqdm.auto import tqdm

from features import FeatureStore, Preprocessing, create_backbone, extract
from features.constants import DEVICES, PRECISIONS
from features.extractor import Extractor
from features.loader import ImageDataset, collate
from features.runtime import autocast, resolve_device, resolve_precision

from ..exceptions import DataError
from ..network import pixel_normalizer
from ..params import rule
from .base import Head, read_meta
from .param_groups import param_groups
from .training import train_epochs

FREEZE = ("none", "stem", "layer1", "layer2", "layer3", "layer4")
GROUPS = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")  # input to output
OPTIMIZERS = ("sgd", "adamw")
BALANCE = ("none", "weights", "sampler")

log = logging.getLogger(__name__)


class FinetuneHead(Head):
    """A torchvision ResNet with a new `fc`, trained with a one-cycle schedule.

    GPU defaults: 224 px, 15 epochs, SGD momentum 0.9, nothing frozen, LP-FT. On a CPU
    use small settings: `image_size: 112`, `epochs: 2`, `freeze: layer3`.
    `X` is a sequence of image paths; labels as for any head.
    """

    name = "finetune"
    input_kind = "images"
    shared_params = ("arch", "weights", "store", "device", "precision")
    rules = {
        "image_size": rule(min=32),
        "epochs": rule(min=1),
        "batch_size": rule(min=1),
        "optimizer": rule(choices=OPTIMIZERS),
        "max_lr": rule(min=1e-8),
        "weight_decay": rule(min=0.0),
        "freeze": rule(choices=FREEZE),
        "layer_lr_decay": rule(min=0.0, max=1.0),
        "balance": rule(choices=BALANCE),
        "label_smoothing": rule(min=0.0, max=1.0),
        "patience": rule(min=1),
        "device": rule(choices=DEVICES),
        "precision": rule(choices=PRECISIONS),
        "num_workers": rule(min=0),
    }

    def __init__(
        self,
        arch: str = "resnet50",
        weights: str = "IMAGENET1K_V2",
        image_size: int = 224,
        epochs: int = 15,
        batch_size: int = 32,
        optimizer: str = "sgd",
        max_lr: float = 0.003,
        lr_find: bool = False,
        weight_decay: float = 1e-4,
        freeze: str = "none",
        layer_lr_decay: float = 1.0,
        balance: str = "none",
        label_smoothing: float = 0.0,
        linear_probe_init: bool = True,
        store: str | None = None,
        patience: int = 4,
        device: str = "auto",
        precision: str = "auto",
        num_workers: int = 0,
        seed: int = 0,
        verbose: bool = True,
    ):
        self.arch = arch
        self.weights = weights
        self.image_size = image_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.max_lr = max_lr
        self.lr_find = lr_find
        self.weight_decay = weight_decay
        self.freeze = freeze
        self.layer_lr_decay = layer_lr_decay
        self.balance = balance
        self.label_smoothing = label_smoothing
        self.linear_probe_init = linear_probe_init
        self.store = store
        self.patience = patience
        self.device = device
        self.precision = precision
        self.num_workers = num_workers
        self.seed = seed
        self.verbose = verbose

    # -- fitting -------------------------------------------------------------------

    def fit(self, X, y, eval_set=None):
        paths, y = [str(p) for p in X], np.asarray(y)
        self.classes_ = np.unique(y)
        targets = np.searchsorted(self.classes_, y)
        device = resolve_device(self.device)
        precision = resolve_precision(self.precision, device)
        torch.manual_seed(self.seed)

        backbone = create_backbone(self.arch, self.weights, seed=self.seed)
        backbone.preprocessing = self.preprocessing_ = _scaled(backbone.preprocessing, self.image_size)
        model = backbone.model
        model.fc = nn.Linear(backbone.dim, len(self.classes_))
        if self.linear_probe_init:
            self.probe_accuracy_ = self._init_from_probe(backbone, paths, targets, device, precision)
        model.to(device).to(memory_format=torch.channels_last)

        train_loader = self._loader(paths, train=True, targets=targets)
        valid = None
        if eval_set is not None:
            valid = ([str(p) for p in eval_set[0]], np.searchsorted(self.classes_, np.asarray(eval_set[1])))
        weight = None
        if self.balance == "weights":
            weight = torch.tensor(
                compute_class_weight("balanced", classes=np.arange(len(self.classes_)), y=targets),
                dtype=torch.float32,
                device=device,
            )
        loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=self.label_smoothing)

        max_lr = self.max_lr
        if self.lr_find:
            self.lr_find_ = self._lr_range_test(model, train_loader, targets, loss_fn, device, precision)
            max_lr = self.lr_find_["suggested"]
        self.max_lr_ = max_lr
        groups = self._param_groups(model, max_lr)
        opt = self._make_optimizer(groups)
        schedule = _one_cycle(opt, [g["lr"] for g in groups], self.epochs * len(train_loader))

        def validate() -> tuple[float, float]:
            proba = self._predict(model, valid[0], device, precision)
            loss = float(-np.log(proba[np.arange(len(valid[1])), valid[1]] + 1e-12).mean())
            return loss, float((proba.argmax(1) == valid[1]).mean())

        result = train_epochs(
            model,
            lambda: self._train_epoch(
                model, train_loader, targets, loss_fn, opt, schedule, device, precision
            ),
            validate if valid is not None else None,
            epochs=self.epochs,
            patience=self.patience,
            unit="images",
            log=(lambda line: log.info("finetune %s", line)) if self.verbose else None,
        )
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        self.model_ = model
        self.device_, self.precision_ = device, precision
        return self

    def predict_proba(self, X, perturb=None) -> np.ndarray:
        """Class probabilities for image paths; `perturb(image, position)` alters them first."""
        check_is_fitted(self, "model_")
        return self._predict(self.model_, [str(p) for p in X], self.device_, self.precision_, perturb)

    def differentiable(self) -> nn.Module:
        """[0, 1] pixels at this head's crop size to logits, normalisation inside."""
        check_is_fitted(self, "model_")
        return nn.Sequential(pixel_normalizer(self.preprocessing_), self.model_).eval()

    def fit_report(self) -> dict:
        report = {"epochs_run": len(self.history_), "best_epoch": self.best_epoch_, "max_lr": self.max_lr_}
        if hasattr(self, "probe_accuracy_"):
            report["linear_probe_train_accuracy"] = self.probe_accuracy_
        if hasattr(self, "lr_find_"):
            report["lr_find_suggested"] = self.lr_find_["suggested"]
        return report

    # -- pieces ----------------------------------------------------------------------

    def _augmentation(self):
        """Training images: PIL to an augmented uint8 tensor; normalisation happens batched, on the device."""
        return v2.Compose(
            [
                v2.RandomResizedCrop(self.image_size, scale=(0.35, 1.0), antialias=True),
                v2.RandomHorizontalFlip(),
                v2.ColorJitter(0.2, 0.2, 0.2),
                v2.PILToTensor(),
            ]
        )

    def _batch(self, images: torch.Tensor, device) -> torch.Tensor:
        images = self.preprocessing_.normalize(images.to(device, non_blocking=True))
        return images.contiguous(memory_format=torch.channels_last)

    def _loader(self, paths, train: bool, targets=None, perturb=None) -> DataLoader:
        # Evaluation inputs take the preprocessing's own resize and crop (to_tensor=None).
        dataset = ImageDataset(
            paths, self.preprocessing_, perturb, to_tensor=self._augmentation() if train else None
        )
        sampler, shuffle = None, train
        if train and self.balance == "sampler":
            counts = np.bincount(targets, minlength=len(self.classes_))
            sampler = WeightedRandomSampler(
                1.0 / counts[targets], len(targets), generator=torch.Generator().manual_seed(self.seed)
            )
            shuffle = False
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=collate,
            drop_last=train and len(paths) > self.batch_size,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def _batches(self, loader: DataLoader, device, targets=None):
        """(normalised images, labels) per batch; an image that cannot be decoded stops the run."""
        for batch in loader:
            if batch.failures:
                listing = "; ".join(f"{loader.dataset.paths[i]}: {reason}" for i, reason in batch.failures)
                raise DataError(f"finetune: images could not be decoded ({listing}); run `dvc repro prepare`")
            labels = None if targets is None else torch.as_tensor(targets[batch.positions]).to(device)
            yield self._batch(batch.images, device), labels

    def _init_from_probe(self, backbone, paths, targets, device, precision) -> float:
        """LP-FT: fit a linear probe on frozen features, start the new fc from it.

        Features come through the feature store, so with the embed stage's preprocessing
        they are the cached embeddings and nothing is recomputed.
        """
        fc = backbone.model.fc
        backbone.model.fc = nn.Identity()
        extractor = Extractor(backbone, device, precision)
        store = FeatureStore(self.store) if self.store else _TemporaryStore()
        report = extract(paths, store, extractor, progress=self.verbose)
        features = store.get(extractor.fingerprint, report.keys)
        probe = LogisticRegression(C=0.1, max_iter=3000).fit(features, targets)
        backbone.model.fc = fc
        with torch.no_grad():
            fc.weight.copy_(torch.as_tensor(probe.coef_, dtype=torch.float32))
            fc.bias.copy_(torch.as_tensor(probe.intercept_, dtype=torch.float32))
        if self.verbose:
            log.info(
                "finetune: linear probe on %d images (%d vectors reused, %d computed)",
                len(paths),
                report.reused,
                report.computed,
            )
        return float(probe.score(features, targets))

    def _param_groups(self, model, max_lr: float) -> list[dict]:
        """Freeze the blocks up to `freeze`; the rest train in layer-wise groups."""
        self.frozen_ = list(GROUPS[: GROUPS.index(self.freeze) + 1]) if self.freeze != "none" else []
        for name in self.frozen_:
            for module in _block(model, name):
                module.requires_grad_(False)
        blocks = [(name, _block(model, name)) for name in GROUPS]
        return param_groups(blocks, max_lr, self.weight_decay, self.frozen_, self.layer_lr_decay)

    def _make_optimizer(self, groups):
        # Each group carries its own weight decay (none on norms and biases).
        if self.optimizer == "adamw":
            return torch.optim.AdamW(groups)
        return torch.optim.SGD(groups, momentum=0.9, nesterov=True)

    def _set_train_mode(self, model) -> None:
        model.train()
        for name in getattr(self, "frozen_", []):  # frozen layers keep their BatchNorm statistics
            for module in _block(model, name):
                module.eval()

    def _train_epoch(self, model, loader, targets, loss_fn, opt, schedule, device, precision) -> dict:
        self._set_train_mode(model)
        total, correct, seen = 0.0, 0, 0
        per_epoch = min(len(loader.dataset), len(loader) * loader.batch_size)
        bar = tqdm(total=per_epoch, unit="img", desc="finetune epoch", leave=False, disable=not self.verbose)
        for images, labels in self._batches(loader, device, targets):
            with autocast(device, precision):
                logits = model(images)
                loss = loss_fn(logits.float(), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
            bar.update(len(labels))  # the bar's rate is training images per second
            bar.set_postfix(loss=f"{total / seen:.3f}")
        bar.close()
        return {"train_loss": total / seen, "train_accuracy": correct / seen, "seen": seen}

    def _lr_range_test(self, model, loader, targets, loss_fn, device, precision, steps: int = 60) -> dict:
        """Leslie Smith's range test: raise the lr exponentially, watch the loss, then undo."""
        saved = copy.deepcopy(model.state_dict())
        lo, hi = 1e-5, 1.0
        opt = self._make_optimizer(self._param_groups(model, lo))
        factor = (hi / lo) ** (1 / max(1, steps - 1))
        lrs, losses, smooth = [], [], None
        self._set_train_mode(model)
        batches = iter(())
        for step in range(steps):
            try:
                images, labels = next(batches)
            except StopIteration:
                batches = self._batches(loader, device, targets)
                images, labels = next(batches)
            lr = lo * factor**step
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast(device, precision):
                loss = loss_fn(model(images).float(), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            smooth = loss.item() if smooth is None else 0.9 * smooth + 0.1 * loss.item()
            lrs.append(lr)
            losses.append(smooth)
            if not math.isfinite(smooth) or smooth > 4 * min(losses):
                break
        model.load_state_dict(saved)
        for p in model.parameters():
            p.requires_grad_(True)
        # The usual pick: a tenth of the lr at the loss minimum.
        suggested = lrs[int(np.argmin(losses))] / 10
        return {"lrs": lrs, "losses": losses, "suggested": float(suggested)}

    @torch.inference_mode()
    def _predict(self, model, paths, device, precision, perturb=None) -> np.ndarray:
        model.eval()
        loader = self._loader(paths, train=False, perturb=perturb)
        out = []
        for images, _ in self._batches(loader, device):
            with autocast(device, precision):
                logits = model(images)
            out.append(torch.softmax(logits.double(), dim=1).cpu())  # float64: rows sum to 1
        return torch.cat(out).numpy()

    # -- persistence -----------------------------------------------------------------

    def _input_meta(self) -> dict:
        return {"preprocessing": self.preprocessing_.as_dict()}

    def _save_state(self, directory: Path) -> None:
        torch.save(self.model_.state_dict(), directory / "weights.pt")

    def _load_state(self, directory: Path) -> None:
        prep = read_meta(directory)["preprocessing"]
        self.preprocessing_ = Preprocessing(
            **{**prep, "mean": tuple(prep["mean"]), "std": tuple(prep["std"])}
        )
        backbone = create_backbone(self.arch, "none")
        model = backbone.model
        model.fc = nn.Linear(backbone.dim, len(self.classes_))
        model.load_state_dict(torch.load(directory / "weights.pt", weights_only=True))
        self.device_ = resolve_device(self.device)
        self.precision_ = resolve_precision(self.precision, self.device_)
        self.model_ = model.to(self.device_).to(memory_format=torch.channels_last).eval()


def _block(model, name: str) -> list[nn.Module]:
    """The modules of one of GROUPS in a torchvision ResNet."""
    return [model.conv1, model.bn1] if name == "stem" else [getattr(model, name)]


def _one_cycle(opt, max_lrs: list[float], steps: int):
    """One-cycle schedule; runs too short for a warm-up phase keep the peak lr throughout."""
    if steps < 4:  # OneCycleLR needs at least one step in each phase
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=max_lrs, total_steps=steps, pct_start=max(0.25, 1.5 / steps)
    )


def _scaled(prep: Preprocessing, size: int) -> Preprocessing:
    """The weights' eval preprocessing at another crop size, keeping the resize ratio."""
    if size == prep.crop:
        return prep  # identical to the embed stage's, so LP-FT reuses the cached vectors
    return dataclasses.replace(prep, crop=size, resize=round(size * prep.resize / prep.crop))


class _TemporaryStore(FeatureStore):
    """A throwaway store, for LP-FT without a shared one."""

    def __init__(self):
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        super().__init__(Path(self._tmp.name) / "store")
