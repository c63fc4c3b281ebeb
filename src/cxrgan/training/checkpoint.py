"""Checkpoints as single safetensors files: weights, Adam state, RNG states, counters.

Everything loads without unpickling: tensors in safetensors, the rest as JSON metadata.
Files are written to a temporary name and renamed, so a crash never leaves a torn file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path
from cxrgan.models import ModelSpec


@dataclass
class Checkpoint:
    tensors: dict[str, Tensor]
    meta: dict[str, Any]

    def prefixed(self, prefix: str) -> dict[str, Tensor]:
        n = len(prefix) + 1
        return {k[n:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}

    def has(self, prefix: str) -> bool:
        return any(k.startswith(prefix + ".") for k in self.tensors)

    def model_spec(self) -> ModelSpec:
        """The architecture that wrote this checkpoint: what loaders rebuild, never loose fields."""
        if "model_spec" not in self.meta:
            raise CxrganError(
                "this checkpoint was written by cxrgan 0.1, before checkpoints named their "
                "architecture; retrain with this version, or load it with cxrgan 0.1"
            )
        return ModelSpec.from_dict(self.meta["model_spec"])

    def load_model(self, prefix: str, model: nn.Module) -> None:
        saved = self.prefixed(prefix)
        problem = _mismatch(saved, model.state_dict())
        if problem:  # another architecture or size: one line instead of a traceback
            raise CxrganError(
                f"checkpoint's {prefix} does not fit {type(model).__name__}: {problem}"
            )
        model.load_state_dict(saved)

    def load_optimizer(self, prefix: str, opt: torch.optim.Optimizer) -> None:
        """Restore Adam state; param_groups come from the metadata (lr may be changed after)."""
        state: dict[int, dict[str, Tensor]] = {}
        for key, value in self.prefixed(prefix).items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = value
        opt.load_state_dict({"state": state, "param_groups": self.meta[f"{prefix}_param_groups"]})


def _mismatch(saved: dict[str, Tensor], wanted: dict[str, Tensor]) -> str | None:
    for key, value in wanted.items():
        if key in saved and saved[key].shape != value.shape:
            return (
                f"{key} is {tuple(saved[key].shape)} in the checkpoint, "
                f"{tuple(value.shape)} in the model"
            )
    missing, unexpected = wanted.keys() - saved.keys(), saved.keys() - wanted.keys()
    if missing or unexpected:
        return f"{len(missing)} tensor(s) missing, {len(unexpected)} unexpected (e.g. " + (
            f"{min(missing)} missing)" if missing else f"{min(unexpected)} unexpected)"
        )
    return None


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list]:
    sd = opt.state_dict()
    tensors = {
        f"{prefix}.{idx}.{name}": value
        for idx, per_param in sd["state"].items()
        for name, value in per_param.items()
    }
    return tensors, sd["param_groups"]


def model_tensors(prefix: str, model: nn.Module) -> dict[str, Tensor]:
    return {f"{prefix}.{k}": v for k, v in model.state_dict().items()}


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    """Atomically write the checkpoint's tensors and JSON-able meta to `path`."""
    # safetensors needs contiguous, non-shared CPU tensors (channels_last params are neither).
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in ckpt.tensors.items()}
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata={k: json.dumps(v) for k, v in ckpt.meta.items()})


def load_checkpoint(path: Path) -> Checkpoint:
    if not path.is_file():
        raise CxrganError(f"checkpoint not found: {path}")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise CxrganError(f"cannot read checkpoint {path}: {exc}") from None
    return Checkpoint(tensors, {k: json.loads(v) for k, v in raw.items()})
