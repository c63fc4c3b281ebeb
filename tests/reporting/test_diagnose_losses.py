"""diagnose() on every loss (bce, ns, hinge) and with ADA's augmentation probability p."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cxrgan.cli.main import main
from cxrgan.reporting import diagnose as dg
from cxrgan.reporting.diagnose import diagnose
from cxrgan.reporting.thresholds import (
    D_OVERFITS,
    D_OVERPOWERS_G,
    D_TOO_WEAK,
    DIVERGED,
    HEALTHY,
    OSCILLATING,
    LossRanges,
    Thresholds,
)

SEEDS = range(6)
ADA_SETTINGS = {"augment": "ada", "ndf": 64, "image_size": 64, "batch_size": 64, "r1_gamma": 0.0}


def _up(x: float) -> float:
    return float(np.nextafter(x, math.inf))


def _down(x: float) -> float:
    return float(np.nextafter(x, -math.inf))


def _with_p(records: list[dict], p: float | list[float]) -> list[dict]:
    values = p if isinstance(p, list) else [p] * len(records)
    return [{**r, "augment_p": v} for r, v in zip(records, values, strict=True)]


# ------------------------------------------------------------------------------------------------
# Per-loss thresholds


def test_every_loss_has_its_ranges_in_thresholds() -> None:
    t = Thresholds()
    bce, ns, hinge = t.for_loss("bce"), t.for_loss("ns"), t.for_loss("hinge")
    assert bce == ns  # ns is bce's maths
    assert t.for_loss(None) == bce  # runs before --loss existed trained with bce
    assert bce.overpower_d_x == t.overpower_d_x and bce.weak_loss_d == t.weak_loss_d
    assert bce.coin_loss_d == pytest.approx(2 * math.log(2))
    assert hinge is t.hinge and hinge.coin_loss_d == 2.0 and hinge.coin_loss_g == 0.0
    # hinge's "D crushes G": real logits ≥ 2, generated ≤ −2, as probabilities
    assert hinge.overpower_d_x == pytest.approx(1 / (1 + math.exp(-2)), abs=0.002)
    assert hinge.overpower_d_g_z == pytest.approx(1 / (1 + math.exp(2)), abs=0.002)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.hinge.overpower_loss_d = 1.0  # type: ignore[misc]
    assert isinstance(hinge, LossRanges)
    custom = Thresholds(hinge=dataclasses.replace(t.hinge, overpower_loss_g=1.0))
    assert custom.for_loss("hinge").overpower_loss_g == 1.0


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        ("hinge_healthy", HEALTHY),
        ("hinge_d_overpowers_g", D_OVERPOWERS_G),
        ("hinge_d_too_weak", D_TOO_WEAK),
    ],
)
@pytest.mark.parametrize("n", [40, 80, 200])
def test_hinge_states(synth: SimpleNamespace, kind: str, state: str, n: int) -> None:
    for seed in SEEDS:
        d = diagnose(synth.curves(kind, n, seed), loss="hinge")
        assert d.state == state, f"{kind} seed {seed}: {d.to_text()}"
        assert d.loss == "hinge"


def test_hinge_d_crushes_g_reads_in_probabilities(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("hinge_d_overpowers_g", 80), loss="hinge")
    assert d.state == D_OVERPOWERS_G
    assert d.evidence["d_x"] >= 0.88 and d.evidence["d_g_z"] <= 0.12
    assert d.evidence["loss_d"] <= 0.2 and d.evidence["loss_g"] >= 2
    assert any("≥ 0.88 = σ(2)" in r for r in d.reasons)
    assert any("≤ 0.12 = σ(−2)" in r for r in d.reasons)
    assert "margins" in d.advice and "--g-lr ×5 (from 2e-4 to 1e-3)" in d.advice
    assert d.hint().endswith("try --g-lr 1e-3")
    text = d.to_text()
    assert "Evidence (loss hinge; D(x), D(G(z)) are D's outputs as probabilities, σ(logit))" in text
    assert text.count("σ(logit)") == 1  # said once
    d_x_line = next(line for line in text.splitlines() if line.strip().startswith("d_x"))
    assert "= σ(" in d_x_line


def test_hinge_advice_suggests_spectral_norm_only_when_off(synth: SimpleNamespace) -> None:
    records = synth.curves("hinge_d_overpowers_g", 80)
    off = diagnose(records, settings={"loss": "hinge", "d_spectral_norm": False})
    on = diagnose(records, settings={"loss": "hinge", "d_spectral_norm": True})
    assert "--d-spectral-norm" in off.advice and "--d-spectral-norm" not in on.advice
    assert off.loss == "hinge"  # taken from the settings


def test_boundary_hinge_d_overpowers_g(synth: SimpleNamespace) -> None:
    h = Thresholds().hinge
    edge = {
        "loss_d": h.overpower_loss_d,
        "d_x": h.overpower_d_x,
        "d_g_z1": h.overpower_d_g_z,
        "loss_g": h.overpower_loss_g,
    }
    assert diagnose(synth.flat(**edge), loss="hinge").state == D_OVERPOWERS_G
    for key, nudge in (("loss_d", _up), ("d_x", _down), ("d_g_z1", _up), ("loss_g", _down)):
        off = {**edge, key: nudge(edge[key])}
        assert diagnose(synth.flat(**off), loss="hinge").state == HEALTHY, key


def test_the_same_numbers_mean_different_things_per_loss(synth: SimpleNamespace) -> None:
    """Logits at ±2.1 and loss_G 2.5: a crushed G for hinge (G's images score below −2), not
    yet for bce (loss_G = −log D(G(z)) needs ≥ 3, and D(x) 0.89 < 0.9)."""
    records = synth.flat(loss_d=0.1, loss_g=2.5, d_x=0.89, d_g_z1=0.11)
    assert diagnose(records, loss="hinge").state == D_OVERPOWERS_G
    assert diagnose(records, loss="bce").state == HEALTHY
    # A hinge D just worse than a coin: loss_D 2.1 is below hinge's 2.15, above bce's 1.5.
    coin = synth.flat(loss_d=2.1, loss_g=0.05, d_x=0.5, d_g_z1=0.48)
    assert diagnose(coin, loss="hinge").state == HEALTHY
    assert diagnose(coin, loss="bce").state == D_TOO_WEAK
    weak = diagnose(synth.flat(loss_d=2.15, loss_g=0.05, d_x=0.5, d_g_z1=0.48), loss="hinge")
    assert weak.state == D_TOO_WEAK
    assert any("2 with logits at 0" in r for r in weak.reasons)


def test_hinge_negative_loss_g_is_fine_until_it_runs_away(synth: SimpleNamespace) -> None:
    fooled = synth.flat(loss_d=1.6, loss_g=-0.6, d_x=0.6, d_g_z1=0.4)
    assert diagnose(fooled, loss="hinge").state == HEALTHY
    t = Thresholds()
    runaway = synth.flat(loss_d=1.6, loss_g=-t.hinge.explode_loss, d_x=0.6, d_g_z1=0.4)
    d = diagnose(runaway, loss="hinge")
    assert d.state == DIVERGED and "|loss| 30" in d.reasons[0]
    growth = synth.flat(12, loss_d=1.6, loss_g=-1.0, d_x=0.6, d_g_z1=0.4)
    for r in growth[-t.latest :]:
        r["loss_g"] = -t.explode_growth_min
    assert diagnose(growth, loss="hinge").state == DIVERGED


def test_hinge_swings_are_measured_against_the_margin(synth: SimpleNamespace) -> None:
    """loss_G wobbling ±0.22 around 0.05 is a large swing of a loss near zero on bce's scale
    (floor 0.5), and small logit moves on hinge's (floor 1, the margin)."""
    records = synth.flat(80, loss_d=1.2, d_x=0.7, d_g_z1=0.3)
    for i, r in enumerate(records):
        r["loss_g"] = 0.05 + 0.22 * math.sin(2 * math.pi * i / 16)
    assert diagnose(records, loss="bce").state == OSCILLATING
    assert diagnose(records, loss="hinge").state == HEALTHY


def test_hinge_healthy_advice_explains_its_equilibrium(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("hinge_healthy", 80), loss="hinge")
    assert d.state == HEALTHY
    assert "loss_D = 2 and loss_G = 0" in d.advice
    assert "2 ln 2" not in d.advice


@pytest.mark.parametrize(
    "kind", ["healthy", "d_overpowers_g", "d_too_weak", "oscillating", "diverged", "exploding"]
)
def test_ns_reads_exactly_like_bce(synth: SimpleNamespace, kind: str) -> None:
    for seed in SEEDS[:3]:
        records = synth.curves(kind, 80, seed)
        bce, ns = diagnose(records), diagnose(records, settings={"loss": "ns"})
        assert ns.loss == "ns" and bce.loss == "bce"
        assert {**ns.to_dict(), "loss": "bce"} == bce.to_dict()


def test_old_runs_and_unknown_losses(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 80)
    assert diagnose(records, settings={"g_lr": 2e-4}).loss == "bce"  # no loss key: bce
    odd = diagnose(records, loss="wgan")
    assert odd.state == HEALTHY and "unknown to diagnose" in odd.advice
    assert diagnose(records).to_dict()["loss"] == "bce"


# ------------------------------------------------------------------------------------------------
# ADA's p


@pytest.mark.parametrize("kind", ["ada_pinned", "ada_climbing"])
@pytest.mark.parametrize("n", [40, 80, 200])
def test_ada_p_high_means_d_overfits(synth: SimpleNamespace, kind: str, n: int) -> None:
    for seed in SEEDS:
        d = diagnose(synth.curves(kind, n, seed), settings=ADA_SETTINGS)
        assert d.state == D_OVERFITS, f"{kind} seed {seed}: {d.to_text()}"
        assert "augment_p" in d.evidence


def test_ada_p_low_is_normal(synth: SimpleNamespace) -> None:
    for seed in SEEDS:
        d = diagnose(synth.curves("ada_low", 80, seed), settings=ADA_SETTINGS)
        assert d.state == HEALTHY
        assert D_OVERFITS not in d.secondary
        assert "ADA p=" in d.hint()  # p is in the hint line whenever ADA is on
        assert "not overfitting" in d.advice
        assert d.evidence["augment_p"] < 0.1


def test_d_overfits_advice_is_concrete(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("ada_pinned", 80), settings=ADA_SETTINGS)
    assert d.state == D_OVERFITS
    assert d.title == "D overfits (ADA's p pinned high)"
    assert "--d-lr ÷2 (from 2e-4 to 1e-4)" in d.advice
    assert "--ndf 32 (from 64)" in d.advice
    assert "--r1-gamma 0.013" in d.advice  # 0.0002 × 64² / 64
    assert "more training images" in d.advice
    hint = d.hint()
    assert hint.startswith("diagnosis: D overfits") and "ADA p=0.8" in hint
    assert "--d-lr 1e-4" in hint and "\n" not in hint
    # R1 already on: not suggested again
    with_r1 = diagnose(synth.curves("ada_pinned", 80), settings={**ADA_SETTINGS, "r1_gamma": 0.1})
    assert "--r1-gamma" not in with_r1.advice


def test_no_p_no_ada_words(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("healthy", 80))
    assert "ADA" not in d.hint() and "ADA" not in d.advice
    assert not any(k.startswith("augment_p") for k in d.evidence)


def test_boundary_ada_pinned(synth: SimpleNamespace) -> None:
    t = Thresholds()
    assert diagnose(synth.flat(augment_p=t.ada_p_high)).state == D_OVERFITS
    assert diagnose(synth.flat(augment_p=_down(t.ada_p_high))).state == HEALTHY
    # persistence: 80% of the window (8 of 10) is enough, 70% is not
    records = synth.flat(10, augment_p=t.ada_p_high)
    for r in records[:2]:
        r["augment_p"] = 0.5
    assert diagnose(records).state == D_OVERFITS
    records[2]["augment_p"] = 0.5
    assert diagnose(records).state == HEALTHY


def test_boundary_ada_climbing_to_cap(synth: SimpleNamespace) -> None:
    t = Thresholds()
    low = [0.1] * 27
    rising = _with_p(synth.flat(30), [*low, t.ada_p_cap, t.ada_p_cap, t.ada_p_cap])
    assert diagnose(rising).state == D_OVERFITS
    below = _with_p(synth.flat(30), [*low, *[_down(t.ada_p_cap)] * 3])
    assert diagnose(below).state == HEALTHY
    flat_high = synth.flat(30, augment_p=t.ada_p_cap)  # high but not rising: the pinned rule
    assert diagnose(flat_high).state == D_OVERFITS
    assert not any("rose" in r for r in diagnose(flat_high).reasons)


def test_high_p_with_a_d_that_cannot_tell_is_not_overfitting(synth: SimpleNamespace) -> None:
    """r_t counts only real images: a D calling everything real also drives p up."""
    records = synth.flat(loss_d=1.5, loss_g=0.7, d_x=0.62, d_g_z1=0.6, augment_p=0.9)
    d = diagnose(records)
    assert d.state == D_TOO_WEAK and D_OVERFITS not in d.secondary


def test_d_overfits_explains_d_overpowers_g(synth: SimpleNamespace) -> None:
    records = synth.curves("d_overpowers_g", 80)
    records = _with_p(records, [0.9] * len(records))
    d = diagnose(records)
    assert d.state == D_OVERFITS and d.secondary == [D_OVERPOWERS_G]


# ------------------------------------------------------------------------------------------------
# Whole runs: the loss and settings come from config.json


def test_diagnose_run_reads_the_loss_from_config(make_run: Callable[..., Path]) -> None:
    hinge = make_run("hinge", kind="hinge_d_overpowers_g", epochs=5, settings={"loss": "hinge"})
    d = dg.diagnose_run(hinge)
    assert d.loss == "hinge" and d.state == D_OVERPOWERS_G
    old = make_run("old", kind="healthy", epochs=5)  # a cxrgan 0.1 run: no loss key
    assert dg.diagnose_run(old).loss == "bce"


def test_cli_diagnose_ada_run(make_run: Callable[..., Path], capsys: pytest.CaptureFixture) -> None:
    run = make_run("ada", kind="ada_pinned", epochs=5, settings={"loss": "ns", **ADA_SETTINGS})
    assert main(["diagnose", str(run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == D_OVERFITS and data["loss"] == "ns"
    assert 0.7 <= data["evidence"]["augment_p"] <= 0.99
    assert main(["diagnose", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Diagnosis: D overfits (ADA's p pinned high) [d_overfits]")
    assert "Evidence (loss ns;" in out
