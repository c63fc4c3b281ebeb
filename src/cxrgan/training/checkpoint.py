"""Checkpoints as single safetensors files: weights, Adam state, RNG states, counters.

Everything loads without unpickling: tensors in safetensors, the rest as JSON metadata.
Files are written to a temporary name and renamed, so a crash never leaves a torn file. Each
tensor's bytes have a checksum in the metadata (`checksums`), and the metadata has one too
(`meta_checksum`), verified on load, so bytes damaged after the write are an error naming the
tensor rather than a run that seems to diverge; the metadata's values are also checked against
the schema (checkpoint_schema.py), so a wrongly typed one is a one-line error, not a TypeError.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
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
from cxrgan.training.checkpoint_schema import meta_problem

# The metadata key of the checksum over the rest of the metadata. Files written before it have
# none: they load, and their metadata is still checked against the schema.
META_CHECKSUM = "meta_checksum"


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

    def non_finite(self, *prefixes: str) -> str | None:
        """The first floating tensor under `prefixes` (all tensors if none) holding NaN or inf."""
        for key, value in self.tensors.items():
            if prefixes and not key.startswith(tuple(p + "." for p in prefixes)):
                continue
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                return key
        return None

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


def tensor_checksum(t: Tensor) -> str:
    """blake2b (16 bytes) of a contiguous CPU tensor's raw bytes, as safetensors stores them."""
    raw = t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def meta_checksum(strings: dict[str, str]) -> str:
    """blake2b (16 bytes) of the header's metadata strings, sorted by key, but for its own."""
    text = json.dumps(sorted((k, v) for k, v in strings.items() if k != META_CHECKSUM))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    """Atomically write the checkpoint's tensors and JSON-able meta (with the tensors' checksums
    and one over the metadata) to `path`. A full or read-only disk raises OSError naming
    `path`; the file there before is kept whole."""
    # safetensors needs contiguous, non-shared CPU tensors (channels_last params are neither).
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in ckpt.tensors.items()}
    meta = {**ckpt.meta, "checksums": {k: tensor_checksum(v) for k, v in plain.items()}}
    strings = {k: json.dumps(v) for k, v in meta.items()}
    strings[META_CHECKSUM] = json.dumps(meta_checksum(strings))  # JSON, as every other value
    with atomic_path(path) as tmp:
        try:
            save_file(plain, str(tmp), metadata=strings)
        except SafetensorError as exc:  # an I/O error inside safetensors: make it an OSError
            code = re.search(r"os error (\d+)", str(exc))
            num = int(code.group(1)) if code else errno.EIO
            raise OSError(num, os.strerror(num) if code else str(exc), str(path)) from None


def choose_hint(path: Path) -> str:
    """What to do about a missing or unusable checkpoint: the run's others, by name."""
    others = sorted(p.name.removesuffix(".safetensors") for p in path.parent.glob("*.safetensors")
                    if p != path)  # fmt: skip
    if not path.is_file():
        have = ", ".join(others)
        return f"pick one with --checkpoint NAME (this run has: {have})" if others else (
            "this run has no checkpoint yet")  # fmt: skip
    if others:
        return f"pick another with --checkpoint NAME (this run also has: {', '.join(others)})"
    return "this run has no other checkpoint: restore the file from a copy, or train again"


def load_checkpoint(path: Path, require: tuple[str, ...] = ()) -> Checkpoint:
    """A checkpoint, its tensors and metadata checked against the checksums it was written with
    (files of earlier versions, without them, load unchecked), its metadata against the schema
    (training/checkpoint_schema.py), which must hold the keys `require` names. Every failure is
    one line that names --checkpoint and the run's other checkpoints."""
    if not path.is_file():
        raise CxrganError(f"checkpoint not found: {path}; {choose_hint(path)}")

    def refuse(why: str) -> CxrganError:
        return CxrganError(f"cannot read checkpoint {path}: {why}; {choose_hint(path)}")

    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
        stored = json.loads(raw.get(META_CHECKSUM, "null"))
        meta = {k: json.loads(v) for k, v in raw.items() if k != META_CHECKSUM}
    except (SafetensorError, OSError, ValueError) as exc:
        raise refuse(str(exc)) from None
    if stored is not None and stored != meta_checksum(raw):
        raise refuse("its metadata does not match its checksum (the file was altered after it "
                     "was written)")  # fmt: skip
    problem = _tensors_problem(tensors, meta.pop("checksums", None))
    problem = problem or meta_problem(meta, require)
    if problem:
        raise refuse(problem)
    return Checkpoint(tensors, meta)


def _tensors_problem(tensors: dict[str, Tensor], checksums: Any) -> str | None:
    if not isinstance(checksums, dict):  # written before checksums
        return None
    for key in sorted(checksums.keys() | tensors.keys()):
        if key not in tensors or key not in checksums:
            what = "missing" if key not in tensors else "has no checksum"
            return f"tensor {key} is {what} (the file was altered after it was written)"
        if tensor_checksum(tensors[key]) != checksums[key]:
            return (
                f"tensor {key} does not match its checksum (the file was damaged after it was "
                "written)"
            )
    return None


def saved_counters(path: Path) -> dict[str, Any] | None:
    """A checkpoint's counters (epoch, step, ...) from its header alone; None if unreadable."""
    try:
        with safe_open(str(path), framework="pt") as f:
            counters = json.loads((f.metadata() or {})["state"])["counters"]
    except Exception:  # missing, torn or foreign: the caller treats it as no checkpoint
        return None
    return counters if isinstance(counters, dict) else None
