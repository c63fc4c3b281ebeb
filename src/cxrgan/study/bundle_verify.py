"""verify.py of a release bundle: its weights, refused unless they are the bytes exported.

`cxrgan export` copies this module into the bundle as verify.py, and load.py takes the weights
from it, so it imports the standard library, torch and safetensors only. The file is read once
and checked before any tensor is made from it:

- its SHA-256 against the one the model card states (a card edited without that line skips it);
- each tensor's bytes against the blake2b checksums in the file's own metadata, as cxrgan's
  checkpoints store them, so damage is named by tensor even when the card was edited.

A failed check ends the program with one line on stderr and exit status 1, no traceback.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import sys
from pathlib import Path

import torch
from safetensors.torch import load

WEIGHTS = "generator.safetensors"
CARD = "README.md"
# The model card's line for the weights' hash (cxrgan's study/card.py writes it).
STATED = re.compile(r"SHA-256 of `generator\.safetensors`: `([0-9a-f]{64})`")


def verified_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The bundle's weights as tensors; the program exits with one line when a check fails."""
    path = Path(folder) / WEIGHTS
    try:
        raw = path.read_bytes()
    except OSError as exc:
        sys.exit(f"refusing to load {path}: cannot read it ({exc.strerror})")
    why = problem(Path(folder), raw)
    if why:
        sys.exit(f"refusing to load {path}: {why}")
    try:
        return load(raw)
    except Exception as exc:  # safetensors' own error: a header the checks above do not cover
        sys.exit(f"refusing to load {path}: {exc}")


def problem(folder: Path, raw: bytes) -> str | None:
    """Why `raw`, the bytes of FOLDER/generator.safetensors, are not what was exported (None:
    they are)."""
    card = folder / CARD
    stated = STATED.search(card.read_text("utf-8", "replace")) if card.is_file() else None
    if stated and hashlib.sha256(raw).hexdigest() != stated.group(1):
        return f"it does not match the SHA-256 in {CARD} (the file was changed after export)"
    try:
        return _tensors_problem(raw)
    except (struct.error, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"its header cannot be read ({type(exc).__name__}: {exc})"


def _tensors_problem(raw: bytes) -> str | None:
    """The first tensor whose bytes differ from its checksum in the header's metadata."""
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    checksums = json.loads(header.pop("__metadata__", {}).get("checksums", "null"))
    if not isinstance(checksums, dict):
        return "it holds no tensor checksums (it was not written by cxrgan export)"
    if header.keys() != checksums.keys():
        return "it holds other tensors than it was exported with"
    for key in sorted(header):
        begin, end = header[key]["data_offsets"]
        got = hashlib.blake2b(raw[8 + n + begin : 8 + n + end], digest_size=16).hexdigest()
        if got != checksums[key]:
            return f"tensor {key} does not match its checksum (the file was changed after export)"
    return None
