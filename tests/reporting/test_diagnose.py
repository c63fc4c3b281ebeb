"""diagnose(): every state from GAN-like logs, the thresholds at their boundary, robust reading."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cxrgan.errors import CxrganError
from cxrgan.reporting import diagnose as dg
from cxrgan.reporting import thresholds as th
from cxrgan.reporting.diagnose import diagnose
from cxrgan.reporting.diversity import grid_diversity, grid_tiles, sample_diversity
from cxrgan.reporting.run_records import load_records
from cxrgan.reporting.thresholds import (
    D_OVERPOWERS_G,
    D_TOO_WEAK,
    DIVERGED,
    HEALTHY,
    MODE_COLLAPSE,
    OSCILLATING,
    TOO_EARLY,
    Thresholds,
)

SEEDS = range(6)


def _up(x: float) -> float:
    return float(np.nextafter(x, math.inf))


def _down(x: float) -> float:
    return float(np.nextafter(x, -math.inf))


# ------------------------------------------------------------------------------------------------
# Every state from a synthetic log


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        ("healthy", HEALTHY),
        ("d_overpowers_g", D_OVERPOWERS_G),
        ("d_too_weak", D_TOO_WEAK),
        ("oscillating", OSCILLATING),
        ("diverged", DIVERGED),
        ("exploding", DIVERGED),
    ],
)
@pytest.mark.parametrize("n", [40, 80, 200])
def test_each_state_is_recognised(synth: SimpleNamespace, kind: str, state: str, n: int) -> None:
    for seed in SEEDS:
        d = diagnose(synth.curves(kind, n, seed))
        assert d.state == state, f"{kind} seed {seed}: {d.to_text()}"
        assert d.title and d.advice and d.reasons


def test_too_early(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("healthy", 40)[:7])
    assert d.state == TOO_EARLY
    assert d.advice == (
        "Only 7 training records (step 70); the trends say something after 8. Nothing is "
        "NaN/inf, and D has not won outright for 200 steps (nor crushed G for 30), which would "
        "be judged now. Let it train."
    )
    none = diagnose([])
    assert none.state == TOO_EARLY
    assert none.advice.startswith("Only 0 training records; the trends say something after 8. ")


def test_mode_collapse_from_diversity(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 80)
    assert diagnose(records, diversity=0.05).state == MODE_COLLAPSE
    assert diagnose(records, diversity=0.7).state == HEALTHY
    # relative to the real images' diversity when known
    assert diagnose(records, diversity=0.3, reference_diversity=0.9).state == MODE_COLLAPSE
    assert diagnose(records, diversity=0.2, reference_diversity=0.3).state == HEALTHY
    d = diagnose(records, diversity=0.05)
    assert d.evidence["diversity"] == 0.05
    assert "with G slowed down: --g-lr" in d.advice
    assert d.action.startswith("start again with --g-lr")
    assert "checkpoint" in d.advice


def test_healthy_then_diverged_is_diverged(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 60)
    records += [
        {
            **records[-1],
            "step": records[-1]["step"] + 10 * (i + 1),
            "loss_d": math.nan,
            "loss_g": math.inf,
        }
        for i in range(4)
    ]
    d = diagnose(records)
    assert d.state == DIVERGED
    assert d.evidence["nonfinite"] == 4
    assert "NaN" in d.hint()


def test_story_advice_has_numbers(synth: SimpleNamespace) -> None:
    """The tutorial story: 2e-4 → D crushes G → ×5 = 1e-3; 2e-3 → D too weak → ÷2 = 1e-3."""
    over = diagnose(synth.curves("d_overpowers_g", 80))
    assert "--g-lr" in over.advice and "1e-3" in over.advice and "--d-lr" in over.advice
    assert over.hint().endswith("try --g-lr 1e-3")
    assert "D(x)=0.98" in over.hint() or "D(x)=0.99" in over.hint()
    weak = diagnose(synth.curves("d_too_weak", 80))
    assert "lower --g-lr" in weak.advice.replace("Lower", "lower")
    assert "1e-3" in weak.advice and "4e-4" in weak.advice  # G ÷2, or D ×2
    assert weak.hint().endswith("try --g-lr 1e-3")


def test_advice_without_learning_rates(synth: SimpleNamespace) -> None:
    records = [
        {k: v for k, v in r.items() if k not in ("lr_g", "lr_d")}
        for r in synth.curves("d_overpowers_g", 40)
    ]
    d = diagnose(records)
    assert d.state == D_OVERPOWERS_G
    assert "×5" in d.advice and "nan" not in d.advice.lower()


def test_healthy_quality_improving_converged_and_worse(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 80)
    improving = diagnose(records, quality=synth.fwd([150, 110, 90, 75, 62, 50]))
    assert improving.state == HEALTHY and "train longer" in improving.advice
    flat = diagnose(records, quality=synth.fwd([150, 80, 60, 52, 51.5, 51.2]))
    assert flat.state == HEALTHY and "converged" in flat.advice
    worse = diagnose(records, quality=synth.fwd([150, 80, 50, 52, 58, 60]))
    assert "best.safetensors" in worse.advice
    none = diagnose(records)
    assert "--eval-every" in none.advice


def test_hint_is_one_line_for_every_state(synth: SimpleNamespace) -> None:
    cases = [
        diagnose(synth.curves(k, 80))
        for k in ("healthy", "d_overpowers_g", "d_too_weak", "oscillating", "diverged")
    ]
    cases += [
        diagnose(synth.curves("healthy", 5)),
        diagnose(synth.curves("healthy", 80), diversity=0.01),
        diagnose(synth.curves("ada_pinned", 80)),
        diagnose(synth.curves("healthy", 80), quality=synth.fwd([90, 60, 50, 58, 60, 63])),
    ]
    assert {d.state for d in cases} == set(th.STATES)
    for d in cases:
        hint = d.hint()
        assert "\n" not in hint and "\r" not in hint
        assert hint.startswith("diagnosis: ")
        assert len(hint) < 240


def test_to_text_and_to_dict(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("diverged", 80), diversity=0.05)
    text = d.to_text()
    assert text.splitlines()[0] == "Diagnosis: Diverged [diverged]"
    assert "Advice:" in text and "Also applies: Mode collapse" in text
    data = d.to_dict()
    json.dumps(data, allow_nan=False)  # strict JSON: NaN evidence became null
    assert data["state"] == DIVERGED and data["secondary"] == [MODE_COLLAPSE]
    assert data["hint"] == d.hint()


# ------------------------------------------------------------------------------------------------
# Thresholds at their boundary (a rule fires on the threshold itself)


def test_thresholds_are_one_frozen_dataclass() -> None:
    t = Thresholds()
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.swing = 1.0  # type: ignore[misc]
    assert all(f.default is not dataclasses.MISSING for f in dataclasses.fields(t))


def test_boundary_min_records(synth: SimpleNamespace) -> None:
    t = Thresholds()
    assert diagnose(synth.flat(t.min_records - 1)).state == TOO_EARLY
    assert diagnose(synth.flat(t.min_records)).state == HEALTHY


def test_boundary_d_overpowers_g(synth: SimpleNamespace) -> None:
    t = Thresholds()
    edge = {
        "loss_d": t.overpower_loss_d,
        "d_x": t.overpower_d_x,
        "d_g_z1": t.overpower_d_g_z,
        "loss_g": t.overpower_loss_g,
    }
    assert diagnose(synth.flat(**edge)).state == D_OVERPOWERS_G
    for key, nudge in (("loss_d", _up), ("d_x", _down), ("d_g_z1", _up), ("loss_g", _down)):
        off = {**edge, key: nudge(edge[key])}
        assert diagnose(synth.flat(**off)).state == HEALTHY, key


def test_boundary_d_too_weak(synth: SimpleNamespace) -> None:
    t = Thresholds(weak_separation=0.125)  # 0.625 − 0.5 is exact in binary
    edge = {"loss_d": Thresholds().weak_loss_d, "loss_g": 0.7, "d_x": 0.625, "d_g_z1": 0.5}
    assert diagnose(synth.flat(**edge), thresholds=t).state == D_TOO_WEAK
    assert (
        diagnose(synth.flat(**{**edge, "loss_d": _down(edge["loss_d"])}), thresholds=t).state
        == HEALTHY
    )
    assert diagnose(synth.flat(**{**edge, "d_x": _up(0.625)}), thresholds=t).state == HEALTHY
    # persistence: 80% of the window (8 of 10) is enough, 70% is not
    records = synth.flat(10, **edge)
    for r in records[:2]:
        r["d_x"] = 0.875
    assert diagnose(records, thresholds=t).state == D_TOO_WEAK
    records[2]["d_x"] = 0.875
    assert diagnose(records, thresholds=t).state == HEALTHY


def test_boundary_diverged(synth: SimpleNamespace) -> None:
    t = Thresholds()
    assert diagnose(synth.flat(loss_g=t.explode_loss)).state == DIVERGED
    assert diagnose(synth.flat(loss_g=_down(t.explode_loss))).state != DIVERGED
    # growth: ×explode_growth up to explode_growth_min in the latest records
    records = synth.flat(12, loss_g=t.explode_growth_min / t.explode_growth)
    for r in records[-t.latest :]:
        r["loss_g"] = t.explode_growth_min
    assert diagnose(records).state == DIVERGED
    for r in records[-t.latest :]:
        r["loss_g"] = _down(t.explode_growth_min)
    assert diagnose(records).state != DIVERGED
    one_nan = synth.flat(12)
    one_nan[5]["d_x"] = math.nan
    assert diagnose(one_nan).state == DIVERGED


def test_boundary_mode_collapse(synth: SimpleNamespace) -> None:
    t = Thresholds()
    records = synth.curves("healthy", 80)
    assert diagnose(records, diversity=t.collapse_diversity).state == MODE_COLLAPSE
    assert diagnose(records, diversity=_up(t.collapse_diversity)).state == HEALTHY
    ref = 0.5  # 0.35 × 0.5 = 0.175 exactly as computed
    edge = t.collapse_ratio * ref
    assert diagnose(records, diversity=edge, reference_diversity=ref).state == MODE_COLLAPSE
    assert diagnose(records, diversity=_up(edge), reference_diversity=ref).state == HEALTHY


def test_boundary_oscillation(synth: SimpleNamespace) -> None:
    records = synth.curves("oscillating", 80)
    ev = diagnose(records).evidence
    swing = max(ev["swing_d"], ev["swing_g"])
    assert diagnose(records, thresholds=Thresholds(swing=swing)).state == OSCILLATING
    assert diagnose(records, thresholds=Thresholds(swing=_up(swing))).state == HEALTHY
    reversals = int(max(ev["reversals_d"], ev["reversals_g"]))
    t = Thresholds(min_reversals=reversals + 1)
    assert diagnose(records, thresholds=t).state == HEALTHY


def test_boundary_fwd_improving(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 80)
    # best before the last third: 100; best of the last third: 95 → 5% better, exactly
    improving = diagnose(records, quality=synth.fwd([120.0, 100.0, 100.0, 95.0]))
    assert improving.title == "Healthy — still improving"
    plateau = diagnose(records, quality=synth.fwd([120.0, 100.0, 100.0, _up(95.0)]))
    assert plateau.title == "Healthy — converged"


def test_window_limits_what_is_judged(synth: SimpleNamespace) -> None:
    """D crushed G early on, a higher --g-lr fixed it: only the recent window counts."""
    records = synth.curves("d_overpowers_g", 60) + synth.curves("healthy", 60, seed=3)[20:]
    for i, r in enumerate(records):
        r["step"] = 10 * (i + 1)
    assert diagnose(records, window=40).state == HEALTHY
    assert diagnose(records[:60], window=40).state == D_OVERPOWERS_G


# ------------------------------------------------------------------------------------------------
# Tolerant reading


def test_unknown_keys_and_other_records_are_ignored(synth: SimpleNamespace) -> None:
    records = synth.curves("d_overpowers_g", 60)
    mixed = []
    for i, r in enumerate(records):
        mixed.append({**r, "future_key": [1, 2], "grad_norm_g": "n/a"})
        if i % 8 == 7:
            mixed.append({"step": r["step"], "epoch": r["epoch"], "fwd": 99.0, "kid_mean": 0.1})
            mixed.append({"step": r["step"], "event": "balance", "lr_g": 1e-3, "reason": "x"})
    mixed.append("not a record")  # type: ignore[arg-type]
    assert diagnose(mixed).to_dict() == diagnose(records).to_dict()


def test_load_records_reads_nan_and_skips_torn_line(tmp_path: Path, synth: SimpleNamespace) -> None:
    lines = [json.dumps(r) for r in synth.curves("healthy", 20)]
    lines.insert(8, json.dumps({"step": 80, "epoch": 1, "fwd": 120.5, "kid_mean": 0.1}))
    lines.insert(3, "")
    lines.append('{"step": 210, "epoch": 3, "loss_d": NaN, "loss_g": Infinity, "d_x": -Infinity}')
    lines.append('{"step": 220, "epoch": 3, "loss_d": 0.5, "lo')  # torn: the trainer was writing
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines))
    train, evals = load_records(tmp_path)
    assert len(train) == 21 and len(evals) == 1
    assert math.isnan(train[-1]["loss_d"]) and train[-1]["loss_g"] == math.inf
    assert evals[0]["fwd"] == 120.5
    assert diagnose(train, quality=evals).state == DIVERGED


def test_load_records_resume_supersedes_relogged_steps(tmp_path: Path) -> None:
    steps = [10, 20, 30, 40, 30, 40, 50]  # crashed after 40, resumed from the checkpoint at 20
    lines = [
        json.dumps({"step": s, "loss_d": float(i), "loss_g": 1.0}) for i, s in enumerate(steps)
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    train, _ = load_records(tmp_path)
    assert [r["step"] for r in train] == [10, 20, 30, 40, 50]
    assert [r["loss_d"] for r in train] == [0.0, 1.0, 4.0, 5.0, 6.0]


def test_load_records_missing_file_and_not_a_dir(tmp_path: Path) -> None:
    assert load_records(tmp_path) == ([], [])
    with pytest.raises(CxrganError):
        load_records(tmp_path / "nope")


# ------------------------------------------------------------------------------------------------
# Sample diversity and grids


def test_sample_diversity_scale() -> None:
    rng = np.random.default_rng(0)
    noise = rng.random((32, 16, 16))
    assert 0.95 < sample_diversity(noise) < 1.05
    same = np.repeat(noise[:1], 32, axis=0)
    assert sample_diversity(same) == pytest.approx(0.0, abs=1e-6)
    assert sample_diversity(np.zeros((8, 4, 4))) == 0.0
    near = same + 0.01 * rng.standard_normal(same.shape)
    assert sample_diversity(near) < Thresholds().collapse_diversity
    assert math.isnan(sample_diversity(noise[:1]))
    # invariant to the intensity scale (uint8 vs [0, 1])
    assert sample_diversity((noise * 255).astype(np.uint8)) == pytest.approx(
        sample_diversity(noise), abs=0.01
    )


def test_grid_round_trip(tmp_path: Path, synth: SimpleNamespace) -> None:
    grid_png, phantom = synth.grid_png, synth.phantom
    rng = np.random.default_rng(1)
    tiles = np.stack([phantom(24, rng) for _ in range(13)])  # 2 rows, last one short
    png = grid_png(tmp_path / "g.png", tiles)
    got = grid_tiles(png, 24)
    assert got.shape == (13, 24, 24)
    np.testing.assert_allclose(got, tiles / 255.0, atol=1e-6)
    inferred = grid_tiles(png)  # tile size from the width: 8 columns
    assert inferred.shape == (13, 24, 24)
    assert grid_tiles(png, 24, n_images_hint=10).shape == (10, 24, 24)
    assert grid_diversity(png, image_size=24) == pytest.approx(sample_diversity(tiles))
    few = grid_png(tmp_path / "few.png", tiles[:3])  # fewer images than columns
    assert grid_tiles(few).shape == (3, 24, 24)


def test_not_a_grid(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("L", (101, 37)).save(tmp_path / "odd.png")
    with pytest.raises(CxrganError):
        grid_tiles(tmp_path / "odd.png")


def test_diagnose_run(make_run) -> None:
    run = make_run("r", kind="d_overpowers_g", epochs=5, evals=[150.0, 149.0, 151.0])
    d = dg.diagnose_run(run)
    assert d.state == D_OVERPOWERS_G
    assert 0 < d.evidence["diversity"] <= 1 and 0 < d.evidence["real_diversity"] <= 1
    assert d.evidence["fwd_best"] == 149.0
    with pytest.raises(CxrganError, match="not a run directory"):
        dg.diagnose_run(run / "samples")


def test_a_conditional_grid_is_judged_by_its_least_varied_class(make_run, synth) -> None:
    """One class band of near-copies is a mode collapse, however varied the other class is:
    the diversity of a conditional run's grid is its lowest band's, read past the margin of
    class names, and diagnose says the collapse is of a class."""
    from PIL import Image

    from cxrgan.reporting.diagnose import diagnose_run
    from cxrgan.reporting.diversity import run_diversity
    from cxrgan.reporting.plots import class_grid, save_png_atomic

    size, phantom = 32, synth.phantom
    run = make_run("cond", image_size=size, synthetic=False, settings={"conditional": True})
    rng = np.random.default_rng(3)
    varied = np.stack([phantom(size, rng) for _ in range(32)]).astype(np.uint8)
    one = phantom(size, rng).astype(np.int16)
    copies = np.stack([np.clip(one + rng.integers(-2, 3, one.shape), 0, 255) for _ in range(32)])
    images = np.concatenate([copies.astype(np.uint8), varied])
    grid = class_grid(images, [0] * 32 + [1] * 32, ["NORMAL", "PNEUMONIA"])
    latest = sorted((run / "samples").glob("epoch_*.png"))[-1]
    save_png_atomic(Image.fromarray(grid), latest)
    diversity, real = run_diversity(run)
    assert diversity == pytest.approx(sample_diversity(copies / 255.0), abs=1e-6)
    assert diversity < 0.1 < sample_diversity(varied / 255.0) and real > 0.3
    assert grid_diversity(latest, image_size=size, classes=2) == diversity
    d = diagnose_run(run)
    assert d.state == MODE_COLLAPSE
    assert d.reasons[0].startswith("sample diversity of the least varied class")
    assert "worst class" in d.advice
    # measured: slowing G lost the minority class as fast, slowing D kept it
    assert "with D slowed down: --d-lr" in d.advice and "--g-lr" not in d.advice
    assert d.action.startswith("start again with --d-lr")
