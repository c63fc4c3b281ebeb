"""Positive controls: a generator that copies its training films, and a D that knows them, must
be caught (AUC ≥ 0.8), with and without a reference; a generator that copies nothing is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from cxrgan.data.phantoms import make_phantoms
from cxrgan.data.pixels import from_uint8
from cxrgan.models import ModelSpec, build_models
from cxrgan.models.base import Discriminator, Generator
from cxrgan.privacy.attacks import draw, run_attacks
from cxrgan.privacy.audit import score_attacks
from cxrgan.privacy.films import Films
from cxrgan.privacy.target import Target
from cxrgan.privacy.verdict import LEAK

SIZE, PER_CLASS = 32, 24
SPEC = ModelSpec("dcgan", 8, SIZE, c_dim=2, classes=("NORMAL", "PNEUMONIA"))


class Copier(Generator):
    """Draws one of its stored films of the asked class for every latent: a memorising G."""

    def __init__(self, films: np.ndarray, classes: np.ndarray) -> None:
        super().__init__(z_dim=8, c_dim=2, resolution=SIZE, channels=1)
        self.register_buffer("films", from_uint8(torch.from_numpy(films)).unsqueeze(1))
        self.classes = torch.from_numpy(classes)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        assert c is not None
        out = torch.empty(len(z), 1, SIZE, SIZE)
        for i, (row, k) in enumerate(zip(z, c, strict=True)):
            own = torch.nonzero(self.classes == k).flatten()
            out[i] = self.films[own[int(row[0].abs() * 1e4) % len(own)]]
        return out


class Knower(Discriminator):
    """Logit: minus the distance to the nearest stored film: a D that overfit those films."""

    def __init__(self, films: np.ndarray) -> None:
        super().__init__(c_dim=2, resolution=SIZE, channels=1)
        self.films = from_uint8(torch.from_numpy(films)).flatten(1)

    def logits(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return -torch.cdist(x.flatten(1), self.films).min(1).values


def films() -> Films:
    def side(seed: int) -> tuple[np.ndarray, np.ndarray]:
        images = np.concatenate([make_phantoms(PER_CLASS, SIZE, 2 * seed + k) for k in (0, 1)])
        return images, np.repeat([0, 1], PER_CLASS)

    (m, mc), (n, nc) = side(0), side(1)
    return Films(m, n, mc, nc, SPEC.classes, {"train": 48, "heldout": 48})


def target(g: Generator, d: Discriminator | None, name: str) -> Target:
    missing = None if d is not None else "no D here"
    return Target(Path(name), "run", g, SPEC, d, missing, "crop", {"kind": "test"})


def audit(reference: Target | None, f: Films, g: Generator, d: Discriminator | None) -> dict:
    attacks = run_attacks(target(g, d, "copier"), reference, f, 256, 0, "cpu", False, log=print)
    return score_attacks(attacks, f, 200, 0).result


def test_a_generator_that_copies_its_training_films_is_caught() -> None:
    f = films()
    result = audit(None, f, Copier(f.members, f.member_classes), Knower(f.members))
    for key in ("white_box", "black_box_features", "black_box_pixels"):
        overall = result["attacks"][key]["overall"]
        assert overall["auc"] >= 0.8 and overall["ci95"][0] > 0.7, (key, overall)
        for per_class in result["attacks"][key]["classes"].values():
            assert per_class["auc"] >= 0.8
    assert result["attacks"]["black_box_pixels"]["overall"]["tpr_at_1pct_fpr"] == 1.0
    assert result["verdict"]["level"] == LEAK
    assert result["verdict"]["text"].startswith("membership leakage: ")


def test_the_calibrated_attacks_catch_it_against_a_reference() -> None:
    """The reference copies the held-out films (a generator of other patients): the target's
    score minus the reference's separates the two sets from both ends."""
    f = films()
    ref = target(Copier(f.nonmembers, f.nonmember_classes), Knower(f.nonmembers), "ref")
    result = audit(ref, f, Copier(f.members, f.member_classes), Knower(f.members))
    for key in ("white_box", "black_box_features", "black_box_pixels"):
        assert result["attacks"][f"{key}_calibrated"]["overall"]["auc"] == 1.0


def test_copying_other_patients_is_no_evidence() -> None:
    """A generator that copies films of a third set of patients leaks nothing of --train."""
    f = films()
    others = np.concatenate([make_phantoms(PER_CLASS, SIZE, 4 + k) for k in (0, 1)])
    result = audit(None, f, Copier(others, f.member_classes), None)
    assert result["attacks"]["white_box"]["skipped"] == "skipped: no D here"
    for key in ("black_box_features", "black_box_pixels"):
        lo, hi = result["attacks"][key]["overall"]["ci95"]
        assert lo < 0.5 + 0.02 and hi > 0.5, (key, lo, hi)


def test_an_unconditional_generator_is_drawn_with_seeded_chunks() -> None:
    """The default `cxrgan train` run is unconditional: its images are drawn too, the same for
    the same seed and other for another."""
    g, _ = build_models(ModelSpec("dcgan", 8, SIZE, kwargs={"ngf": 8, "ndf": 8}))
    a, b = draw(g, 20, None, 0, "cpu", False, "x"), draw(g, 20, None, 0, "cpu", False, "x")
    assert a.shape == (20, SIZE, SIZE) and np.array_equal(a, b)
    assert not np.array_equal(a, draw(g, 20, None, 1, "cpu", False, "x"))
