"""`cxrgan export`: a release bundle of a run's generator that loads without cxrgan.

BUNDLE/
├── README.md              model card (YAML front matter for model hubs; the weights' SHA-256)
├── generator.safetensors  G_ema's weights (the trained G when the run kept no EMA copy), with a
│                          checksum per tensor in its metadata, as checkpoints have
├── generator.py           the architecture as plain PyTorch source (see study/source.py)
├── model_spec.json        the architecture's name and arguments, as checkpoints store it
├── training_config.json   the run's config.json
├── load.py                about ten lines: torch + safetensors → sample PNGs
├── generator.onnx         with --onnx: G for onnxruntime and other runtimes (study/onnx_export.py)
├── verify.py              load.py's checks of the weights (study/bundle_verify.py, copied)
└── samples.png            16 images from seed 0
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path, json_text
from cxrgan.inference.generate import load_generator, sample_images
from cxrgan.study import bundle_verify
from cxrgan.study.card import check_license, model_card
from cxrgan.study.make import write_text
from cxrgan.study.onnx_export import ONNX_FILE, require_onnx, write_onnx
from cxrgan.study.source import check_equivalent, generator_source
from cxrgan.training.checkpoint import load_checkpoint, tensor_checksum
from cxrgan.training.rundir import RunDir

SAMPLES = 16
LOAD_PY = '''"""Sample the bundled generator with plain PyTorch + safetensors (no cxrgan needed)."""
from pathlib import Path
import torch
from generator import Z_DIM, Generator, save_png, to_uint8
from verify import verified_weights  # refuses weights changed since export, in one line

here = Path(__file__).resolve().parent
g = Generator()
g.load_state_dict(verified_weights(here))
g.eval()  # BatchNorm on the standing statistics stored with the weights: any batch size works
z = torch.randn(16, Z_DIM, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    images = to_uint8(g(z{cond}))
for i, image in enumerate(images):
    save_png(here / f"sample_{{i:02d}}.png", image)
'''


def _grid(images: np.ndarray, cols: int = 4) -> Image.Image:
    n, s = len(images), images.shape[-1]
    rows = -(-n // cols)
    grid = np.full((rows * (s + 2) - 2, cols * (s + 2) - 2), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        grid[r * (s + 2) : r * (s + 2) + s, c * (s + 2) : c * (s + 2) + s] = img
    return Image.fromarray(grid, "L")


def _write_weights(
    path: Path, g: torch.nn.Module, spec: dict, ema: bool, checkpoint: str
) -> str:  # fmt: skip
    """generator.safetensors, with a checksum per tensor in its metadata; its SHA-256."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in g.state_dict().items()}
    meta = {
        "model_spec": json.dumps(spec),
        "format": "cxrgan-export-1",
        "weights": "G_ema" if ema else "G",
        "checkpoint": checkpoint,
        "checksums": json.dumps({k: tensor_checksum(v) for k, v in tensors.items()}),
    }
    with atomic_path(path, ".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_bundle(
    run: Path,
    out: Path,
    checkpoint: str = "last",
    license_id: str | None = None,
    onnx: bool = False,
) -> Path:
    """BUNDLE/ as the module's docstring draws it; `onnx` adds generator.onnx."""
    run = Path(run)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise CxrganError(f"{out} is not empty; pick a new --out folder")
    check_license(license_id)
    if onnx:
        require_onnx()  # before anything is written
    g = load_generator(run, checkpoint, "cpu")  # G_ema when the run kept one
    ckpt = load_checkpoint(RunDir.open(run).checkpoint(checkpoint))
    spec = ckpt.model_spec().to_dict()
    ema = ckpt.has("G_ema")
    title = f"Synthetic chest X-ray generator: {spec['name']} at {spec['resolution']} px"
    source = generator_source(g, title)
    check_equivalent(g, source)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "generator.py", source)
    sha256 = _write_weights(out / bundle_verify.WEIGHTS, g, spec, ema, checkpoint)
    write_text(out / "verify.py", inspect.getsource(bundle_verify))
    write_text(out / "model_spec.json", json_text(spec, indent=1) + "\n")
    if (run / "config.json").is_file():
        shutil.copyfile(run / "config.json", out / "training_config.json")
    cond = ", torch.arange(16) % " + str(spec["c_dim"]) if spec.get("c_dim") else ""
    write_text(out / "load.py", LOAD_PY.format(cond=cond))
    labels = None
    if spec.get("c_dim"):
        labels = torch.arange(SAMPLES) % spec["c_dim"]
    images = sample_images(g, SAMPLES, 0, "cpu", labels=labels)
    with atomic_path(out / "samples.png", ".png") as tmp:
        _grid(images).save(tmp)
    if onnx:
        write_onnx(g, out / ONNX_FILE)
    write_text(out / "README.md", model_card(run, spec, checkpoint, ema, license_id, sha256))
    return out
