"""Every built-in architecture exports as plain PyTorch source that reproduces it; a layer of
one's own is traced into plain torch calls, and refused by name when it holds weights."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from cxrgan.errors import CxrganError
from cxrgan.models import MODELS, ModelSpec, build_models
from cxrgan.models.base import Generator
from cxrgan.study.source import check_equivalent, generator_source


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builtin_architectures_export(name: str) -> None:
    resolution = min(MODELS.load(name).resolutions)
    g, _ = build_models(ModelSpec(name, 8, resolution, kwargs={"ngf": 8}))
    source = generator_source(g, name)
    check_equivalent(g, source)  # raises when the source's images differ
    assert "import cxrgan" not in source and "from cxrgan" not in source
    assert "pickle" not in source and "torch.load" not in source


class Double(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * 2


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(4))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gain


class WithCustomLayer(Generator):
    def __init__(self, odd: nn.Module) -> None:
        super().__init__(z_dim=4, c_dim=0, resolution=2, channels=1)
        self.fc = nn.Linear(4, 4)
        self.odd = odd

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return torch.tanh(self.odd(self.fc(z))).view(len(z), 1, 2, 2)


def test_own_layers_are_traced_into_and_refused_when_they_hold_weights() -> None:
    g = WithCustomLayer(Double())
    source = generator_source(g, "x")
    check_equivalent(g, source)
    assert "odd" not in source  # inlined as `fc * 2`
    with pytest.raises(CxrganError, match=r"its forward reads odd.gain directly"):
        generator_source(WithCustomLayer(Scale()), "x")
