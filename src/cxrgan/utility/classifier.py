"""The utility score's one fixed classifier: a small CNN, its training schedule, its predictions.

It is fixed on purpose: the utility score compares training sets, so everything else stays the
same (architecture, schedule, augmentation, seeds). A change here changes every score: bump
VERSION, which utility.json records, so that scores of different versions are not compared.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from cxrgan.data.pixels import from_uint8
from cxrgan.errors import CxrganError
from cxrgan.utility.defaults import EPOCHS, MIN_IMAGE_SIZE

VERSION = 2  # 2: cosine decay of the learning rate (1: constant)
CHANNELS = (16, 32, 64, 128)
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
PREDICT_BATCH = 256


def max_shift(image_size: int) -> int:
    """How far an image may be translated while training: 1/16 of its side (4 px at 64), ≥ 1."""
    return max(1, image_size // 16)


class UtilityCNN(nn.Module):
    """Four blocks of conv 3×3 → BatchNorm → ReLU → max-pool 2×2, global average pool, linear."""

    def __init__(self, n_classes: int, channels: Sequence[int] = CHANNELS):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),  # BatchNorm adds the bias
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def build_classifier(n_classes: int, seed: int) -> UtilityCNN:
    """The CNN with its initial weights drawn from `seed`; torch's global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UtilityCNN(n_classes)


def class_weights(labels: np.ndarray, n_classes: int) -> Tensor:
    """n / (K · n_k) per class k: every class weighs the same in the loss, however rare."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def translate(x: Tensor, shift: int, gen: torch.Generator) -> Tensor:
    """Each image of (B, 1, S, S) moved by its own random (dy, dx) in [-shift, shift], the edge
    pixels repeated into the gap. No flips: a flipped chest puts the heart on the wrong side."""
    b, _, s, _ = x.shape
    padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    offsets = torch.randint(0, 2 * shift + 1, (b, 2), generator=gen).to(x.device)
    span = torch.arange(s, device=x.device)
    rows = (span[None, :] + offsets[:, :1])[:, :, None]  # (B, S, 1)
    cols = (span[None, :] + offsets[:, 1:])[:, None, :]  # (B, 1, S)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, 0, rows, cols].unsqueeze(1)


@dataclass
class Trained:
    model: UtilityCNN
    seconds: float
    final_loss: float  # mean weighted cross-entropy of the last epoch


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    seed: int,
    *,
    epochs: int = EPOCHS,
    device: str | torch.device = "cpu",
    progress: bool = True,
    desc: str = "classifier",
) -> Trained:
    """Train the CNN on (N, S, S) uint8 images; the same seed gives the same weights on CPU.

    The seed draws the initial weights, the order of every epoch and every translation.
    """
    size = images.shape[-1]
    if size < MIN_IMAGE_SIZE:
        raise CxrganError(
            f"the classifier needs images of at least {MIN_IMAGE_SIZE} px, not {size}"
        )
    if len(images) < 2:
        raise CxrganError(f"cannot train a classifier on {len(images)} image(s)")
    gen = torch.Generator().manual_seed(seed)
    model = build_classifier(n_classes, seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    batches = math.ceil(len(images) / BATCH_SIZE)
    # Cosine decay to 0: at a constant rate the last steps (and BatchNorm's running statistics,
    # which eval mode uses) still jumped, so the decision threshold moved from seed to seed
    # (balanced accuracy 0.60 with AUC 0.996, version 1).
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * batches)
    weight = class_weights(np.asarray(labels), n_classes).to(device)
    pixels = torch.from_numpy(np.ascontiguousarray(images))  # uint8; scaled batch by batch
    targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    n, shift = len(pixels), max_shift(size)
    model.train()
    start, epoch_loss = time.perf_counter(), math.nan
    with tqdm(
        total=epochs * batches, desc=desc, unit="batch", leave=False, disable=not progress
    ) as bar:
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for b in range(batches):
                idx = order[b * BATCH_SIZE : (b + 1) * BATCH_SIZE]
                x = from_uint8(pixels[idx]).unsqueeze(1).to(device)
                x = translate(x, shift, gen)
                loss = F.cross_entropy(model(x), targets[idx].to(device), weight=weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
                total += loss.item() * len(idx)
                bar.update(1)
            epoch_loss = total / n
            bar.set_postfix(loss=f"{epoch_loss:.3f}")
    return Trained(model, time.perf_counter() - start, epoch_loss)


@torch.no_grad()
def predict_proba(
    model: UtilityCNN, images: np.ndarray, device: str | torch.device = "cpu"
) -> np.ndarray:
    """(N, K) class probabilities (softmax, float64) for (N, S, S) uint8 images; eval mode."""
    was_training = model.training
    model.eval()
    out = []
    pixels = torch.from_numpy(np.ascontiguousarray(images))
    for start in range(0, len(pixels), PREDICT_BATCH):
        x = from_uint8(pixels[start : start + PREDICT_BATCH]).unsqueeze(1).to(device)
        out.append(torch.softmax(model(x).double(), dim=1).cpu().numpy())  # sums to 1 in fp64
    model.train(was_training)
    return np.concatenate(out)


def parameter_count(n_classes: int) -> int:
    return sum(p.numel() for p in UtilityCNN(n_classes).parameters())


def describe(image_size: int, n_classes: int, epochs: int) -> dict[str, Any]:
    """The classifier in words and numbers, for utility.json (docs/utility.md has the why)."""
    shift = max_shift(image_size)
    blocks = ", ".join(map(str, CHANNELS))
    return {
        "name": "cxrgan utility CNN",
        "version": VERSION,
        "input": f"1×{image_size}×{image_size} gray, scaled to [-1, 1]",
        "architecture": f"{len(CHANNELS)} blocks of conv 3×3 (no bias) → BatchNorm → ReLU → "
        f"max-pool 2×2 with {blocks} channels; global average pool; linear to {n_classes} "
        "classes",
        "parameters": parameter_count(n_classes),
        "optimiser": f"Adam, lr {LEARNING_RATE:g} with cosine decay to 0 over all steps, "
        "betas (0.9, 0.999), no weight decay",
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "loss": "cross-entropy weighted by n / (K · n_k), so each class weighs the same",
        "augmentation": f"random translation by up to ±{shift} px per axis (edges repeated); "
        "no flips",
        "seeding": "the seed draws the initial weights, each epoch's order and the translations",
        "prediction": "softmax of the logits in eval mode (BatchNorm running statistics)",
    }
