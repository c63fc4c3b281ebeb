"""A conditional generator (c_dim > 0): the study is balanced by class on both sides with fakes
drawn for the right class, and export writes source that takes the class indices (a stand-in
generator whose classes are black and white, and the built-in conditional networks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import CLASSES, image_folders
from PIL import Image
from torch import Tensor, nn

import cxrgan.inference.generate as generate
from cxrgan.models.base import Generator
from cxrgan.study.make import make_study
from cxrgan.study.source import check_equivalent, generator_source


class ClassShade(Generator):
    """Class 0 draws all-black images, class 1 all-white (plus a learned term times zero)."""

    def __init__(self) -> None:
        super().__init__(z_dim=4, c_dim=2, resolution=8, channels=1)
        self.embed = nn.Embedding(2, 4)
        self.fc = nn.Linear(4, 64)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        learned = self.fc(z * self.embed(c)).view(len(z), 1, 8, 8)
        shade = (c.float() * 2 - 1).view(-1, 1, 1, 1)
        return torch.tanh(learned) * 0 + shade


def _conditional_run(root: Path) -> Path:
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    info = {"config": {"fit": "crop"}, "dataset": {"classes": {c: 10 for c in CLASSES}}}
    (run / "config.json").write_text(json.dumps(info))
    return run


def test_conditional_run_balances_by_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real, _ = image_folders(tmp_path)
    run = _conditional_run(tmp_path)
    monkeypatch.setattr(generate, "load_generator", lambda *a, **k: ClassShade())
    key = make_study(real, run, 12, tmp_path / "study")
    assert key["conditional"] and key["run"] == str(run.resolve())
    for truth in ("real", "fake"):
        classes = sorted(i["class"] for i in key["images"] if i["truth"] == truth)
        assert classes == ["NORMAL"] * 3 + ["PNEUMONIA"] * 3
    for image in key["images"]:
        if image["truth"] == "fake":  # drawn for its class: NORMAL (index 0) black, else white
            pixels = np.asarray(Image.open(tmp_path / "study/images" / f"{image['id']}.png"))
            assert pixels.shape == (8, 8)
            assert set(pixels.ravel()) == {0 if image["class"] == "NORMAL" else 255}


def test_conditional_source_takes_class_indices() -> None:
    g = ClassShade()
    source = generator_source(g, "conditional")
    check_equivalent(g, source)
    scope: dict = {}
    exec(compile(source, "generator.py", "exec"), scope)
    copy = scope["Generator"]()
    copy.load_state_dict(g.state_dict())
    out = copy(torch.zeros(4, 4), torch.tensor([0, 1, 0, 1]))
    assert out[:, 0, 0, 0].tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert scope["C_DIM"] == 2


@pytest.mark.parametrize(("name", "resolution"), [("dcgan", 32), ("lightweight", 64)])
def test_built_in_conditional_generators_export(name: str, resolution: int) -> None:
    from cxrgan.models import ModelSpec, build_models

    spec = ModelSpec(name, 8, resolution, c_dim=2, kwargs={"ngf": 8, "ndf": 8}, classes=CLASSES)
    g, _ = build_models(spec)
    g.class_mix.copy_(torch.tensor([0.25, 0.75]))
    source = generator_source(g, name)
    check_equivalent(g, source)  # class code, class_mix buffer and all
