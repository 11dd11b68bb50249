"""Fine-tuned head: the whole backbone with a new classifier, trained end to end on the images."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.utils.data import DataLoader, WeightedRandomSampler
from torchvision.transforms import v2

from features.constants import DEVICES, PRECISIONS
from features.extraction.extract import extract, extract_vectors
from features.images.loader import ImageDataset, Reindexed, collate
from features.images.preprocessing import Preprocessing
from features.networks.backbones import create_backbone, stage_names
from features.networks.extractor import Extractor
from features.networks.runtimes import autocast, resolve_device, resolve_precision
from features.store.base import MissingVectors
from features.store.open import open_store
from features.store.segments import SegmentStore

from ..artifacts.image_inputs import ImageInputs
from ..exceptions import ParamsError, UndecodableImages
from ..params import rule
from .base import ImageHead, read_meta, validated_fit
from .modules import pixel_normalizer
from .optimizers import OPTIMIZERS, make_optimizer, param_groups
from .training import (
    EarlyStopping,
    EpochLog,
    LRFinder,
    ProgressBar,
    Step,
    Throughput,
    Validation,
    fit_loop,
    seeded,
)

BALANCE = ("none", "weights", "sampler")

log = logging.getLogger(__name__)


class FinetuneHead(ImageHead):
    """Any backbone with a new linear classifier on its pooled feature, trained with a one-cycle
    schedule; `freeze` names one of the backbone's own stages (ResNet's `layer3`, ViT's
    `block6`, `stage4` elsewhere: the stage list is printed for a name it does not have).

    GPU defaults: 224 px, 15 epochs, SGD momentum 0.9, nothing frozen, LP-FT. On a CPU
    use small settings: `image_size: 112`, `epochs: 2`, `freeze: layer3`.
    `X` is an ImageInputs (or any sequence of image paths); labels as for any head.
    """

    name = "finetune"
    shared_params = ("arch", "weights", "store", "device", "precision")
    rules = {
        "image_size": rule(min=32),
        "epochs": rule(min=1),
        "batch_size": rule(min=1),
        "optimizer": rule(choices=OPTIMIZERS),
        "max_lr": rule(gt=0.0),
        "weight_decay": rule(min=0.0),
        "layer_lr_decay": rule(gt=0.0, max=1.0),
        "balance": rule(choices=BALANCE),
        "label_smoothing": rule(min=0.0, lt=1.0),
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

    def checked_params(self, prefix: str = "") -> dict:
        checked = super().checked_params(prefix)
        frozen_stages(checked["arch"], checked["freeze"], f"{prefix or 'heads.finetune'}.freeze")
        return checked

    # -- fitting -------------------------------------------------------------------

    @validated_fit
    def fit(self, X, y, eval_set=None):
        X, y = ImageInputs.of(X), np.asarray(y)
        self.classes_ = np.unique(y)
        targets = np.searchsorted(self.classes_, y)
        device = resolve_device(self.device)
        with seeded(self.seed, device):
            self._fit(X, targets, eval_set, device, resolve_precision(self.precision, device))
        return self

    def _fit(self, X: ImageInputs, targets, eval_set, device, precision) -> None:
        backbone = create_backbone(self.arch, self.weights, seed=self.seed)
        self.frozen_ = frozen_stages(self.arch, self.freeze)
        backbone.preprocessing = self.preprocessing_ = _scaled(backbone.preprocessing, self.image_size)
        model = _classifier(backbone, len(self.classes_))
        if self.linear_probe_init:
            features = self._probe_features(Extractor(backbone, device, precision), X)
            self.probe_accuracy_ = _init_from_probe(model.classifier, features, targets)
        model.to(device).to(memory_format=torch.channels_last)

        train_loader = self._loader(X, train=True, targets=targets)
        loss_fn = self._loss(targets, device)

        def step(batch) -> Step:
            images, labels = batch
            with autocast(device, precision):
                logits = model(images)
                loss = loss_fn(logits.float(), labels)
            return Step(loss, logits, labels)

        def batches():
            return self._batches(train_loader, device, targets)

        max_lr, self.lr_find_ = self.max_lr, None
        if self.lr_find:
            finder = LRFinder()
            optimizer = make_optimizer(self.optimizer, self._param_groups(backbone, model, finder.low))
            fit_loop(model, optimizer, batches, step, epochs=finder.steps, callbacks=[finder],
                     train_mode=lambda: self._set_train_mode(backbone, model))  # fmt: skip
            model.requires_grad_(True)  # the real groups freeze again below
            self.lr_find_ = finder.result
            max_lr = self.lr_find_["suggested"]
        self.max_lr_ = max_lr
        groups = self._param_groups(backbone, model, max_lr)
        optimizer = make_optimizer(self.optimizer, groups)
        schedule = _one_cycle(optimizer, [g["lr"] for g in groups], self.epochs * len(train_loader))

        stopping = EarlyStopping(self.patience)
        callbacks = []
        if eval_set is not None:
            valid = ImageInputs.of(eval_set[0]), np.searchsorted(self.classes_, np.asarray(eval_set[1]))
            callbacks.append(Validation(lambda: self._score(model, *valid, device, precision)))
        callbacks += [stopping, Throughput("images")]
        if self.verbose:
            per_epoch = min(len(train_loader.dataset), len(train_loader) * train_loader.batch_size)
            callbacks += [ProgressBar(per_epoch, "finetune epoch"), EpochLog(log, "finetune")]
        loop = fit_loop(
            model,
            optimizer,
            batches,
            step,
            epochs=self.epochs,
            callbacks=callbacks,
            scheduler=schedule,
            train_mode=lambda: self._set_train_mode(backbone, model),
        )
        self.history_, self.best_epoch_ = loop.history, stopping.best_epoch
        self.model_ = model
        self.device_, self.precision_ = device, precision

    def _loss(self, targets: np.ndarray, device) -> nn.CrossEntropyLoss:
        """Cross-entropy; with `balance: weights`, each class weighted to the same total."""
        weight = None
        if self.balance == "weights":
            balanced = compute_class_weight("balanced", classes=np.arange(len(self.classes_)), y=targets)
            weight = torch.tensor(balanced, dtype=torch.float32, device=device)
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=self.label_smoothing)

    def _score(self, model, X: ImageInputs, y_index, device, precision) -> tuple[float, float]:
        """Loss and accuracy on labelled images, as the validation callback reports them."""
        proba = self._predict(model, X, device, precision)
        loss = float(-np.log(proba[np.arange(len(y_index)), y_index] + 1e-12).mean())
        return loss, float((proba.argmax(1) == y_index).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities for images (an ImageInputs, perturbed or not, or paths)."""
        check_is_fitted(self, "model_")
        return self._predict(self.model_, ImageInputs.of(X), self.device_, self.precision_)

    def differentiable(self) -> nn.Module:
        """[0, 1] pixels at this head's crop size to logits, normalisation inside."""
        check_is_fitted(self, "model_")
        return nn.Sequential(pixel_normalizer(self.preprocessing_), self.model_).eval()

    def history(self) -> list[dict]:
        return self.history_

    def lr_finder_result(self) -> dict | None:
        return self.lr_find_

    def fit_report(self) -> dict:
        report = {"epochs_run": len(self.history_), "best_epoch": self.best_epoch_, "max_lr": self.max_lr_}
        if hasattr(self, "probe_accuracy_"):
            report["linear_probe_train_accuracy"] = self.probe_accuracy_
        if self.lr_find_:
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

    def _loader(self, X: ImageInputs, train: bool, targets=None) -> DataLoader:
        # Evaluation inputs take the preprocessing's own resize and crop (to_tensor=None).
        transform = Reindexed(X.transform, X.where()) if X.transform else None
        dataset = ImageDataset(
            X.paths, self.preprocessing_, transform, to_tensor=self._augmentation() if train else None
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
            drop_last=train and len(X) > self.batch_size,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def _batches(self, loader: DataLoader, device, targets=None):
        """(normalised images, labels) per batch; an image that cannot be decoded stops the run."""
        for batch in loader:
            if batch.failures:
                paths = loader.dataset.paths
                raise UndecodableImages("finetune", [(paths[i], reason) for i, reason in batch.failures])
            labels = None if targets is None else torch.as_tensor(targets[batch.positions]).to(device)
            yield self._batch(batch.images, device), labels

    def record_fit_vectors(self, X) -> str | None:
        """The linear probe's vectors of the train images, into the `store` the stage names
        (with the embed stage's preprocessing they are its vectors, and nothing is computed)."""
        X = ImageInputs.of(X)
        if not (self.linear_probe_init and self.store and X.keys is not None):
            return None
        device = resolve_device(self.device)
        extractor = self._probe_extractor(device, resolve_precision(self.precision, device))
        report = extract(X.paths, open_store(self.store), extractor, keys=list(X.keys), progress=self.verbose)
        if report.failures:
            raise UndecodableImages("finetune", [(f.path, f.reason) for f in report.failures])
        return f"linear probe vectors of {len(X)} train images: {report.summary()}"

    def _probe_extractor(self, device, precision) -> Extractor:
        backbone = create_backbone(self.arch, self.weights, seed=self.seed)
        backbone.preprocessing = _scaled(backbone.preprocessing, self.image_size)
        return Extractor(backbone, device, precision)

    def _probe_features(self, extractor: Extractor, X: ImageInputs) -> np.ndarray:
        """The frozen features LP-FT fits its probe on: read from the store where the stage
        recorded them (`record_fit_vectors`), else computed in a store of this fit's own; `fit`
        never writes the shared store."""
        if self.store and X.keys is not None:
            with contextlib.suppress(MissingVectors):  # not recorded: computed below
                return open_store(self.store).get(extractor.fingerprint, list(X.keys))
        report, features = extract_vectors(X.paths, _TemporaryStore(), extractor, progress=self.verbose)
        if report.failures:
            raise UndecodableImages("finetune", [(f.path, f.reason) for f in report.failures])
        log.info("finetune: linear probe vectors of %d images computed for this fit", len(X))
        return features

    def _param_groups(self, backbone, model, max_lr: float) -> list[dict]:
        """Freeze the stages up to `freeze`; the rest train in stage-wise groups, the new
        classifier last."""
        stages = backbone.stage_parameters() + [("classifier", list(model.classifier.parameters()))]
        for name, params in stages:
            for p in params:
                p.requires_grad_(name not in self.frozen_)
        return param_groups(stages, max_lr, self.weight_decay, self.frozen_, self.layer_lr_decay)

    def _set_train_mode(self, backbone, model) -> None:
        model.train()
        for module in backbone.stage_modules(self.frozen_):  # frozen stages keep their BatchNorm statistics
            module.eval()

    @torch.inference_mode()
    def _predict(self, model, X: ImageInputs, device, precision) -> np.ndarray:
        model.eval()
        loader = self._loader(X, train=False)
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
        model = _classifier(create_backbone(self.arch, "none"), len(self.classes_))
        model.load_state_dict(torch.load(directory / "weights.pt", weights_only=True))
        self.device_ = resolve_device(self.device)
        self.precision_ = resolve_precision(self.precision, self.device_)
        self.model_ = model.to(self.device_).to(memory_format=torch.channels_last).eval()


def _classifier(backbone, classes: int) -> nn.Sequential:
    """The backbone's feature network, then a new linear classifier on its pooled feature."""
    return nn.Sequential(OrderedDict(features=backbone.model, classifier=nn.Linear(backbone.dim, classes)))


def frozen_stages(arch: str, freeze: str, key: str = "heads.finetune.freeze") -> list[str]:
    """`arch`'s stages up to and including `freeze` ('none': none of them)."""
    names = list(stage_names(arch))
    if freeze == "none":
        return []
    if freeze not in names:
        raise ParamsError(
            f"{key}: got {freeze!r}; choose from {['none'] + names} "
            f"({arch}'s stages, input to output: frozen up to and including the one named)"
        )
    return names[: names.index(freeze) + 1]


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


def _init_from_probe(fc: nn.Linear, features: np.ndarray, targets: np.ndarray) -> float:
    """LP-FT: fit a linear probe on frozen features, start the new classifier from it; its
    train accuracy."""
    probe = LogisticRegression(C=0.1, max_iter=3000).fit(features, targets)
    with torch.no_grad():
        fc.weight.copy_(torch.as_tensor(probe.coef_, dtype=torch.float32))
        fc.bias.copy_(torch.as_tensor(probe.intercept_, dtype=torch.float32))
    return float(probe.score(features, targets))


class _TemporaryStore(SegmentStore):
    """A throwaway store, for LP-FT without a shared one."""

    def __init__(self):
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        super().__init__(Path(self._tmp.name) / "store")
