"""A trained generator as plain PyTorch source: what a release bundle's `generator.py` holds.

torch.fx traces the generator's forward into a graph of calls on standard `torch.nn` layers,
torch functions and tensor methods. The source rebuilds each layer from its repr
(`torch.nn.Conv2d(64, 32, kernel_size=(3, 3), ...)`) at the same dotted name, so the state
dict's keys are the run's own, and the traced forward is printed as Python. Nothing of cxrgan is
needed to run it, and loading it executes only this readable file plus safetensors weights:
no pickle. An architecture that uses a layer outside torch.nn, or a layer whose repr does not
rebuild it, is refused with the layer's name.
"""

from __future__ import annotations

import builtins
import re
import sys
import textwrap
from copy import deepcopy

import torch
from torch import fx, nn

from cxrgan.errors import CxrganError
from cxrgan.models.base import Generator

# What the forward may reference besides `torch` (fx prints these names as they are).
ALLOWED_GLOBALS = {"torch", "len", "inf", "nan", "NoneType", "device", "getattr"}

HEADER = '''"""{title}

Plain PyTorch: written by `cxrgan export` from the trained generator (traced with torch.fx).
Generator()(z) maps latents z of shape (N, {z_dim}){cond} to images (N, {channels}, {res}, {res})
in [-1, 1]. Weights: generator.safetensors (load_state_dict), batch norm's running statistics
included: the standing statistics cxrgan samples with. Call .eval() and draw any batch size,
one image included; an image depends only on its latent (and class).
"""

import struct
import zlib

import torch
from torch import nn

inf, nan = float("inf"), float("nan")
NoneType = type(None)
device = torch.device
Z_DIM, C_DIM, RESOLUTION, CHANNELS = {z_dim}, {c_dim}, {res}, {channels}


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        if C_DIM:  # how often training drew each class (its standing statistics' mix)
            self.register_buffer("class_mix", torch.zeros(C_DIM))
{layers}

    def _put(self, name, module):
        *parents, leaf = name.split(".")
        owner = self
        for part in parents:
            if not hasattr(owner, part):
                owner.add_module(part, nn.Module())
            owner = getattr(owner, part)
        owner.add_module(leaf, module)

{forward}

def to_uint8(images):
    """(N, 1, S, S) in [-1, 1] -> (N, S, S) uint8, as cxrgan rounds."""
    return ((images[:, 0].float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def save_png(path, image):
    """One (S, S) uint8 tensor as an 8-bit grayscale PNG (no Pillow needed)."""
    h, w = image.shape
    raw = b"".join(b"\\x00" + bytes(image[r].tolist()) for r in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    body = head + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    png = b"\\x89PNG\\r\\n\\x1a\\n" + body
    with open(path, "wb") as f:
        f.write(png)
'''


def _trace(g: Generator) -> fx.Graph:
    """The forward as a graph; `len(z)` is recorded as a call (a batch size the caller picks)."""
    modules = {sys.modules[type(m).__module__] for m in g.modules()}
    injected = [m for m in modules if "len" not in vars(m)]
    for m in injected:  # fx wraps only functions it finds in the modules' globals
        vars(m)["len"] = builtins.len
    try:
        concrete = {} if g.c_dim else {"c": None}
        graph = fx.Tracer(autowrap_functions=(builtins.len,)).trace(g, concrete_args=concrete)
    except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError, ...
        raise CxrganError(f"cannot trace {type(g).__name__} with torch.fx: {exc}") from None
    finally:
        for m in injected:
            del vars(m)["len"]
    for node in list(graph.nodes):  # the "c is None" guard of an unconditional model
        if node.op == "call_function" and getattr(node.target, "__name__", "") == "_assert_is_none":
            graph.erase_node(node)
        else:
            node.type = None  # no annotations: `Tensor | None` would need names of its own
    return graph


def _layer(name: str, module: nn.Module) -> str:
    cls = type(module)
    if getattr(nn, cls.__name__, None) is not cls:
        raise CxrganError(
            f"cannot export layer {name}: {cls.__module__}.{cls.__name__} is not a torch.nn layer"
        )
    text = f"nn.{module!r}"
    try:
        rebuilt = eval(text, {"nn": nn})  # our own repr of a torch.nn layer
    except Exception:
        raise CxrganError(f"cannot export layer {name}: {module!r} does not rebuild it") from None
    mine = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    if mine != theirs or repr(rebuilt) != repr(module):
        raise CxrganError(f"cannot export layer {name}: {module!r} does not rebuild it")
    return text


def generator_source(g: Generator, title: str) -> str:
    graph = _trace(g)
    code = graph.python_code(root_module="self")
    unknown = sorted(
        name
        for name in set(code.globals) - ALLOWED_GLOBALS
        if re.search(rf"\b{re.escape(name)}\b", code.src)
    )
    if unknown:
        raise CxrganError(f"cannot export {type(g).__name__}: its forward calls {unknown}")
    used = sorted({n.target for n in graph.nodes if n.op == "call_module"})
    direct = sorted({str(n.target) for n in graph.nodes if n.op == "get_attr"})
    if direct:  # a layer of its own (not torch.nn) that holds weights: traced into, not rebuilt
        raise CxrganError(
            f"cannot export {type(g).__name__}: its forward reads {', '.join(direct)} directly "
            "(only torch.nn layers hold weights in an exported generator)"
        )
    lines = [f"        self._put({name!r}, {_layer(name, g.get_submodule(name))})" for name in used]
    kept = [line for line in code.src.splitlines() if not line.startswith("torch.fx.")]
    forward = textwrap.indent("\n".join(kept).strip("\n"), "    ")
    return HEADER.format(
        title=title,
        z_dim=g.z_dim,
        c_dim=g.c_dim,
        res=g.resolution,
        channels=g.channels,
        cond=" and class indices c of shape (N,)" if g.c_dim else "",
        layers="\n".join(lines) or "        pass",
        forward=forward,
    )


def check_equivalent(g: Generator, source: str) -> None:
    """The written source, run on the generator's weights, gives the generator's images.

    Both run in eval mode, as cxrgan samples, on copies, so `g` keeps its mode."""
    scope: dict = {"__name__": "cxrgan_export_check"}
    exec(compile(source, "generator.py", "exec"), scope)  # the source just written
    copy = scope["Generator"]()
    copy.load_state_dict(g.state_dict(), strict=True)
    reference = deepcopy(g)
    z = torch.randn(4, g.z_dim, generator=torch.Generator().manual_seed(0))
    c = torch.arange(4) % g.c_dim if g.c_dim else None
    reference.eval()
    copy.eval()
    with torch.no_grad():
        expected, got = reference(z, c), copy(z, c) if c is not None else copy(z)
    if not torch.allclose(expected, got, atol=1e-5):
        raise CxrganError(f"the exported source of {type(g).__name__} does not reproduce it")
