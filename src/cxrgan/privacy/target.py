"""The generator under audit (and a reference one): a training run, whose checkpoint holds G
and D, or an export bundle (`cxrgan export`), which holds G only.

D is loaded from the checkpoint as `inference.generate` loads G: rebuilt from the model spec
the checkpoint stores, its weights checked for NaN/inf first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors

from cxrgan.data.pixels import from_uint8
from cxrgan.errors import CxrganError
from cxrgan.inference.generate import load_model
from cxrgan.models import ModelSpec, build_models
from cxrgan.models.base import Discriminator, Generator
from cxrgan.reporting.run_records import is_run_dir, run_settings
from cxrgan.study import bundle_verify
from cxrgan.training.checkpoint import load_checkpoint

BUNDLE_SPEC = "model_spec.json"
BUNDLE_CONFIG = "training_config.json"
D_BATCH = 64  # D scores films in batches about this size (the real halves of training batches)


@dataclass
class Target:
    """A generator, its discriminator when the files still hold one, and where they came from."""

    path: Path
    kind: str  # "run" or "bundle"
    g: Generator
    spec: ModelSpec
    d: Discriminator | None
    d_missing: str | None  # why there is no D (None when there is one)
    fit: str  # how the run made its films square: the films are loaded the same way
    source: dict[str, Any]


def open_target(path: Path, checkpoint: str, device: str, flag: str = "RUN") -> Target:
    """A run (config.json) or an export bundle (generator.safetensors); one line otherwise."""
    path = Path(path)
    if not path.exists():
        raise CxrganError(f"{flag} {path} does not exist")
    if is_run_dir(path):
        return _open_run(path, checkpoint, device)
    if (path / bundle_verify.WEIGHTS).is_file():
        return _open_bundle(path, device, flag)
    raise CxrganError(
        f"{flag} {path} is neither a run (no config.json) nor an export bundle (no "
        f"{bundle_verify.WEIGHTS})"
    )


def _open_run(run: Path, checkpoint: str, device: str) -> Target:
    loaded = load_model(run, checkpoint, device)
    ckpt = load_checkpoint(loaded.checkpoint)
    d, missing = None, None
    if not ckpt.has("D"):
        missing = f"checkpoints/{checkpoint} holds no discriminator"
    elif (bad := ckpt.non_finite("D")) is not None:
        missing = f"checkpoints/{checkpoint}'s discriminator holds NaN/inf weights ({bad})"
    else:
        _, d = build_models(loaded.spec)
        ckpt.load_model("D", d)
        d = d.to(device)
    source = {
        "kind": "run",
        "path": str(run.resolve()),
        "checkpoint": str(loaded.checkpoint),
        "generator": "G_ema" if loaded.ema else "G",
        "model": loaded.spec.describe(),
    }
    fit = str(run_settings(run).get("fit") or "crop")
    return Target(run, "run", loaded.g, loaded.spec, d, missing, fit, source)


def _open_bundle(bundle: Path, device: str, flag: str) -> Target:
    raw = (bundle / bundle_verify.WEIGHTS).read_bytes()
    why = bundle_verify.problem(bundle, raw)
    if why:
        raise CxrganError(f"{flag} {bundle}: {bundle_verify.WEIGHTS}: {why}")
    try:
        spec = ModelSpec.from_dict(json.loads((bundle / BUNDLE_SPEC).read_text("utf-8")))
        tensors = load_tensors(raw)
    except (OSError, ValueError, SafetensorError) as exc:
        raise CxrganError(f"{flag} {bundle}: cannot read the bundle ({exc})") from None
    g, _ = build_models(spec)
    g.load_state_dict(tensors)
    config = bundle / BUNDLE_CONFIG
    settings = json.loads(config.read_text("utf-8")).get("config", {}) if config.is_file() else {}
    source = {"kind": "bundle", "path": str(bundle.resolve()), "model": spec.describe()}
    missing = "an export bundle holds the generator only, not the discriminator"
    fit = str(settings.get("fit") or "crop")
    return Target(bundle, "bundle", g.to(device), spec, None, missing, fit, source)


@torch.no_grad()
def d_logits(
    d: Discriminator, images: np.ndarray, class_ids: np.ndarray | None, seed: int, device: str
) -> np.ndarray:
    """D's logit of every film, as D saw real films in training: no augmentation, batch norm on
    batch statistics. Members and non-members are shuffled together (seeded) into batches of
    near-equal size, so batch statistics never tell the two sets apart; the rest of D (spectral
    norm's power iteration, dropout) runs in eval mode and changes nothing."""
    d.eval()
    for layer in d.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.train()
    order = np.random.default_rng(seed).permutation(len(images))
    out = np.empty(len(images), np.float64)
    for rows in np.array_split(order, max(1, round(len(images) / D_BATCH))):
        x = from_uint8(torch.from_numpy(np.asarray(images[rows]))).unsqueeze(1).to(device)
        c = None if class_ids is None else torch.from_numpy(class_ids[rows]).to(device)
        out[rows] = d(x, c).flatten().double().cpu().numpy()
    return out
