"""A run's generator as ONNX (`cxrgan export --onnx`): BUNDLE/generator.onnx.

G is exported in eval mode on its standing statistics (models.standing), so the graph maps
each latent (and class index) to one image whatever the batch: inputs `latent` (N, z_dim)
float32 and, for a conditional G, `class_index` (N,) int64; output `image` (N, channels, S, S)
in [-1, 1]; N is a dynamic axis. The file is run once with onnxruntime on CPU against torch
before it is kept. onnx and onnxruntime are the optional extra `onnx`, imported only here.
See docs/export.md.
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path
from cxrgan.models.base import Generator

ONNX_FILE = "generator.onnx"
OPSET = 17
TOLERANCE = 1e-4  # the largest |onnxruntime - torch| a kept export may show, in [-1, 1] units
CHECK_BATCH = 3  # another batch size than the one traced with, so the batch axis is tested


def require_onnx() -> tuple[ModuleType, ModuleType]:
    """onnx and onnxruntime, or a one-line error naming the extra that installs them."""
    try:
        # deferred: the optional extra `onnx`, loaded only when an ONNX file is asked for
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise CxrganError(
            f"--onnx needs the optional extra onnx (onnx and onnxruntime; missing: {exc.name}): "
            "pip install 'cxrgan[onnx]', or pip install onnx onnxruntime"
        ) from None
    return onnx, onnxruntime


def input_names(g: Generator) -> list[str]:
    return ["latent", "class_index"] if g.c_dim else ["latent"]


def example_inputs(g: Generator, n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """`n` latents (and class indices, every class in turn) to trace or check with."""
    z = g.sample_latents(n, generator=torch.Generator().manual_seed(seed))
    return (z, torch.arange(n) % g.c_dim) if g.c_dim else (z,)


def onnx_bytes(g: Generator) -> bytes:
    """`g` (eval mode, its batch norm on its running statistics) as an ONNX model."""
    onnx, _ = require_onnx()
    g = copy.deepcopy(g).cpu().eval()
    names = input_names(g)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter, which torch marks deprecated: torch.export's needs
        # onnxscript too and took 14 s for a tiny G here; this one matches torch to 1e-9
        # (tests/study/test_onnx_export.py).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            g,
            example_inputs(g, 2),
            buffer,
            input_names=names,
            output_names=["image"],
            dynamic_axes={name: {0: "batch"} for name in [*names, "image"]},
            opset_version=OPSET,
            dynamo=False,
        )
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    return buffer.getvalue()


def onnx_difference(g: Generator, model: bytes, n: int = CHECK_BATCH) -> float:
    """The largest |onnxruntime − torch| over `n` images of `g` drawn from the same inputs."""
    _, ort = require_onnx()
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inputs = example_inputs(g, n, seed=1)
    feed = {name: x.numpy() for name, x in zip(input_names(g), inputs, strict=True)}
    got = session.run(None, feed)[0]
    reference = copy.deepcopy(g).cpu().eval()
    with torch.no_grad():
        expected = reference(*inputs).numpy()
    return float(np.abs(got - expected).max())


def write_onnx(g: Generator, path: Path) -> float:
    """`g` as ONNX at `path`, kept only if onnxruntime reproduces torch within TOLERANCE;
    returns the largest difference seen."""
    model = onnx_bytes(g)
    diff = onnx_difference(g, model)
    if not diff <= TOLERANCE:
        raise CxrganError(
            f"the ONNX export of {type(g).__name__} differs from torch by {diff:.3g} "
            f"(more than {TOLERANCE:g}); not written"
        )
    with atomic_path(path, ".onnx") as tmp:
        tmp.write_bytes(model)
    return diff
