"""A conditional run's classes: which the data offers, that a resume keeps them, and how
often each is drawn for generated images (--class-sampling)."""

from __future__ import annotations

import numpy as np
import torch

from cxrgan.config import TrainConfig
from cxrgan.data.folder import ImageSet
from cxrgan.errors import CxrganError
from cxrgan.models import ModelSpec
from cxrgan.training.state import TrainState


def training_classes(data: ImageSet) -> tuple[str, ...]:
    """--conditional: the classes are the data folder's subfolders; at least two, every image
    in one of them."""
    where = "the built-in demo data" if data.synthetic else str(data.root)
    loose = data.class_counts.get("", 0)
    if loose:
        raise CxrganError(
            f"--conditional: {loose} image(s) of {where} sit directly in the folder, in no class "
            f"subfolder; put every image in its class's subfolder (e.g. NORMAL/, PNEUMONIA/)"
        )
    if len(data.classes) < 2:
        found = f"one class ({data.classes[0]!r})" if data.classes else "no class subfolders"
        raise CxrganError(
            f"--conditional needs at least two classes, i.e. class subfolders such as NORMAL/ "
            f"and PNEUMONIA/; {where} has {found}"
        )
    return tuple(data.classes)


# Below this many images, a class of a conditional run gets a warning: small-data GANs (FastGAN,
# StyleGAN2-ADA) report usable samples from about 100 images up, fewer tend to be copied, and a
# class's per-class FWD and precision/recall need hundreds (docs/metrics.md, "Sample size").
FEW_CLASS_IMAGES = 100


def small_class_warnings(data: ImageSet) -> list[str]:
    """One warning per class of fewer than FEW_CLASS_IMAGES images (training goes on)."""
    return [
        f"warning: --conditional: class {name!r} has {count} image(s), fewer than "
        f"{FEW_CLASS_IMAGES}: its samples will likely copy its training images and its "
        "per-class FWD is noise at that size; gather more, or merge it into another class"
        for name, count in data.class_counts.items()
        if name and count < FEW_CLASS_IMAGES
    ]


def check_resumed_classes(spec: ModelSpec, data: ImageSet) -> None:
    """A conditional checkpoint's class indices mean the classes it was trained on."""
    if spec.c_dim and tuple(data.classes) != spec.classes:
        raise CxrganError(
            f"this conditional run was trained on the classes {', '.join(spec.classes)}, but "
            f"the data now has {', '.join(c or '(no class)' for c in data.classes)}: resume "
            f"with the same class subfolders"
        )


def fake_class_probs(cfg: TrainConfig, spec: ModelSpec, data: ImageSet) -> torch.Tensor | None:
    """How often each class is drawn for generated images (--class-sampling); None when
    unconditional."""
    if not spec.c_dim:
        return None
    if cfg.class_sampling == "uniform":
        return torch.full((spec.c_dim,), 1.0 / spec.c_dim)
    counts = torch.bincount(torch.from_numpy(data.labels).long(), minlength=spec.c_dim)
    return counts.double().div(counts.sum()).float()


def set_class_mix(s: TrainState, cfg: TrainConfig, data: ImageSet) -> None:
    """A conditional G's `class_mix` (and G_ema's): what training draws fake labels from and the
    mix its generation batches are made up in. Set after a restore too, so that a resumed run
    follows the data it trains on."""
    probs = fake_class_probs(cfg, s.spec, data)
    for net in (s.g, s.g_ema):
        if probs is not None and net is not None:
            net.class_mix.copy_(probs)


def class_indices(data: ImageSet, classes: tuple[str, ...]) -> np.ndarray:
    """Each image's index among a model's `classes` (matched by name), -1 for other classes."""
    index = {name: classes.index(name) if name in classes else -1 for name in data.classes}
    return np.array([index[data.classes[i]] for i in data.labels], dtype=np.int64)
