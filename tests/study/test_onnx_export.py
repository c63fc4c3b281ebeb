"""`cxrgan export --onnx`: the generator as ONNX, in eval mode on its standing statistics, run
by onnxruntime on CPU within 1e-4 of torch for any batch size, conditional or not; without the
`onnx` extra a one-line error names it. (The CLI path on a trained run: tests/study/test_export.py.)
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from cxrgan.errors import CxrganError
from cxrgan.models import ModelSpec, build_models
from cxrgan.models.base import Generator
from cxrgan.models.standing import compute_standing_stats
from cxrgan.study import bundle
from cxrgan.study.onnx_export import ONNX_FILE, write_onnx


def standing_g(name: str, c_dim: int, resolution: int) -> Generator:
    """A small G of `name`, its batch norm given a few train-mode steps' worth of statistics
    to drift from its initial ones, then standing statistics."""
    torch.manual_seed(c_dim)
    g, _ = build_models(ModelSpec(name, z_dim=8, resolution=resolution, c_dim=c_dim,
                                  kwargs={"ngf": 4}))  # fmt: skip
    with torch.no_grad():  # weights away from their initial values, so BN matters
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return compute_standing_stats(g, latents=64, batch=16)


@pytest.mark.parametrize(
    ("name", "c_dim", "resolution"),
    [("dcgan", 0, 32), ("dcgan", 3, 32), ("lightweight", 0, 64), ("lightweight", 2, 64)],
)
def test_onnxruntime_matches_torch_for_any_batch(tmp_path, name, c_dim, resolution):
    g = standing_g(name, c_dim, resolution)
    path = tmp_path / ONNX_FILE
    assert write_onnx(g, path) <= 1e-4
    model = onnx.load(str(path))
    inputs = [i.name for i in model.graph.input]
    assert inputs == (["latent", "class_index"] if c_dim else ["latent"])
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(7)
    for n in (1, 5):
        z = torch.randn(n, 8, generator=gen)
        c = torch.randint(0, max(c_dim, 1), (n,), generator=gen)
        feed = {"latent": z.numpy(), **({"class_index": c.numpy()} if c_dim else {})}
        got = session.run(None, feed)[0]
        with torch.no_grad():
            expected = (g(z, c) if c_dim else g(z)).numpy()
        assert got.shape == (n, 1, resolution, resolution)
        assert np.abs(got - expected).max() <= 1e-4
        assert np.abs(expected).max() > 0.01  # images, not a constant


def test_an_image_depends_on_its_own_class_only(tmp_path):
    g = standing_g("dcgan", 2, 32)
    write_onnx(g, tmp_path / ONNX_FILE)
    session = ort.InferenceSession(str(tmp_path / ONNX_FILE), providers=["CPUExecutionProvider"])
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(1)).numpy()
    a = session.run(None, {"latent": z, "class_index": np.array([0, 0, 0, 0])})[0]
    b = session.run(None, {"latent": z, "class_index": np.array([0, 1, 1, 1])})[0]
    assert np.abs(a[0] - b[0]).max() <= 1e-5 and np.abs(a[1] - b[1]).max() > 1e-3


def test_without_the_extra_the_error_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(CxrganError, match=r"optional extra onnx .*missing: onnxruntime.*"
                                          r"cxrgan\[onnx\]"):  # fmt: skip
        write_onnx(standing_g("dcgan", 0, 32), tmp_path / ONNX_FILE)
    with pytest.raises(CxrganError, match=r"cxrgan\[onnx\]"):  # before the bundle is begun
        bundle.export_bundle(tmp_path / "no-run", tmp_path / "out", onnx=True)
    assert not (tmp_path / "out").exists() and not (tmp_path / ONNX_FILE).exists()
