"""diagnose() judged by steps and signal strength (not by the number of log records), and FWD
read against the real-vs-real floor (a plateau far above it is not convergence)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cxrgan.reporting import plots
from cxrgan.reporting.diagnose import diagnose, diagnose_run
from cxrgan.reporting.run_page import build_run_page
from cxrgan.reporting.thresholds import (
    D_OVERPOWERS_G,
    DIVERGED,
    HEALTHY,
    TOO_EARLY,
    Thresholds,
)

T = Thresholds()


def _down(x: float) -> float:
    return float(np.nextafter(x, -math.inf))


def _up(x: float) -> float:
    return float(np.nextafter(x, math.inf))


def _crushed_from(step: int, total: int) -> list[dict[str, float]]:
    """Per-step values of a run with --d-lr 2e-3 --g-lr 2e-5: a normal start, then from `step`
    on D(x) ≈ 0.9999 and D(G(z)) ≈ 0.0004 (the issue's run)."""
    out = []
    for i in range(1, total + 1):
        if i < step:
            out.append({"loss_d": 1.1, "loss_g": 1.6, "d_x": 0.75, "d_g_z1": 0.35, "d_g_z2": 0.25})
        else:
            out.append(
                {"loss_d": 5e-4, "loss_g": 7.8, "d_x": 0.9999, "d_g_z1": 4e-4, "d_g_z2": 4e-4}
            )
    return out


def _first_step_in(records: list[dict], state: str) -> float:
    for k in range(1, len(records) + 1):
        if diagnose(records[:k]).state == state:
            return records[k - 1]["step"]
    return math.inf


# ------------------------------------------------------------------------------------------------
# D wins outright: counted in steps, whatever --log-every


@pytest.mark.parametrize("log_every", [1, 2, 5, 10])
def test_d_crushing_g_is_judged_by_steps_whatever_log_every(
    synth: SimpleNamespace, log_every: int
) -> None:
    records = synth.steps(_crushed_from(20, 60), log_every, lr_g=2e-5, lr_d=2e-3)
    # Crushed from step 20: judged once 30 crushed steps are logged, by step 50 at any
    # --log-every (records average the steps since the previous one, so at --log-every 10 the
    # record at step 20 still holds nine normal steps and the count starts at 20).
    assert _first_step_in(records, D_OVERPOWERS_G) <= 20 + T.crush_steps
    d = diagnose(records)  # step 60: "too early" (6 records < 8) before
    assert d.state == D_OVERPOWERS_G, d.to_text()
    assert d.evidence["crushed_steps"] >= T.crush_steps
    assert "--g-lr ×5 (from 2e-5 to 1e-4)" in d.advice and "--d-lr" in d.advice
    assert "D(x)=0.9999" in d.hint()  # not rounded to 1
    assert "start-up transient" in d.advice  # step 60 < transient_steps: says when to recheck
    if log_every == 10:
        assert len(records) == 6 < T.min_records


def test_one_epoch_of_kaggle_at_batch_128_is_enough(synth: SimpleNamespace) -> None:
    """40 steps, 4 records at --log-every 10: D crushing G from step 11 is said at epoch end."""
    records = synth.steps(_crushed_from(11, 40), 10, lr_g=2e-5, lr_d=2e-3)
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    d = diagnose(records)
    assert d.state == D_OVERPOWERS_G
    assert d.evidence["crushed_steps"] == 30
    assert any("crushed G for the last 30 steps" in r for r in d.reasons)


def test_a_healthy_start_is_still_too_early(synth: SimpleNamespace) -> None:
    """The blog's setting on the Kaggle set (its logged records at --log-every 50)."""
    blog = [
        (50, 2.143, 10.32, 0.7301, 0.4244, 0.0141),
        (100, 1.971, 4.28, 0.4986, 0.4692, 0.0376),
        (150, 1.608, 3.19, 0.5256, 0.4663, 0.0844),
        (200, 1.613, 1.77, 0.4954, 0.5038, 0.212),
        (250, 1.5, 1.55, 0.5162, 0.4922, 0.2499),
    ]
    keys = ("step", "loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")
    records = [{**dict(zip(keys, row, strict=True)), "lr_g": 1e-3, "lr_d": 2e-4} for row in blog]
    d = diagnose(records)
    assert d.state == TOO_EARLY
    assert d.evidence["won_steps"] == 0 and d.evidence["step"] == 250
    assert "step 250" in d.advice and "8" in d.advice


def test_both_rates_at_2e4_on_kaggle_judged_before_8_records() -> None:
    """Both rates 2e-4 (lightweight model, batch 64, --log-every 50): D crushes G for good."""
    logged = [
        (50, 0.9338, 0.0926),
        (100, 0.9946, 0.0065),
        (150, 0.9977, 0.0031),
        (200, 0.9987, 0.0014),
        (250, 0.999, 0.0012),
    ]
    records = [
        {"step": s, "loss_d": 0.01, "loss_g": 6.5, "d_x": x, "d_g_z1": g, "d_g_z2": g}
        for s, x, g in logged
    ]
    assert diagnose(records[:4]).state == TOO_EARLY  # 150 steps of outright wins < 200
    d = diagnose(records)
    assert d.state == D_OVERPOWERS_G and d.evidence["won_steps"] == 200
    assert any("won outright for the last 200 steps" in r for r in d.reasons)


def _flat(steps: list[int], **values: float) -> list[dict]:
    base = {"loss_d": 0.7, "loss_g": 2.0, "d_x": 0.7, "d_g_z1": 0.3, "d_g_z2": 0.2}
    return [{"step": s, "epoch": 1, **base, **values} for s in steps]


@pytest.mark.parametrize("loss", ["bce", "hinge"])
def test_boundary_outright_and_crush(loss: str) -> None:
    r = T.for_loss(loss)
    # outright: exactly `outright_steps` steps at the bounds, in 4 records or in 10
    for every in (T.outright_steps // 4, T.outright_steps // 10):
        steps = list(range(every, T.outright_steps + 1, every))
        edge = {"d_x": r.outright_d_x, "d_g_z1": r.outright_d_g_z}
        assert diagnose(_flat(steps, **edge), loss=loss).state == D_OVERPOWERS_G
        short = _flat(steps, **edge)
        short[0]["d_x"] = _down(r.outright_d_x)  # the first record no longer counts
        assert diagnose(short, loss=loss).state != D_OVERPOWERS_G
        above = _flat(steps, **{**edge, "d_g_z1": _up(r.outright_d_g_z)})
        assert diagnose(above, loss=loss).state != D_OVERPOWERS_G
    # crush: exactly `crush_steps` steps at the stronger bounds
    steps = [10, 20, 30]
    edge = {"d_x": r.crush_d_x, "d_g_z1": r.crush_d_g_z}
    assert T.crush_steps == 30
    assert diagnose(_flat(steps, **edge), loss=loss).state == D_OVERPOWERS_G
    assert diagnose(_flat(steps[:2], **edge), loss=loss).state == TOO_EARLY
    off = _flat(steps, **{**edge, "d_x": _down(r.crush_d_x)})
    assert diagnose(off, loss=loss).state == TOO_EARLY


def test_outright_needs_d_g_z1_or_falls_back_to_d_g_z2() -> None:
    records = [{k: v for k, v in r.items() if k != "d_g_z1"} for r in _flat([10, 20, 30])]
    for r in records:
        r.update(d_x=0.9995, d_g_z2=2e-4)
    assert diagnose(records).state == D_OVERPOWERS_G


def test_a_run_that_diverged_at_step_1_is_diverged() -> None:
    nan = {"loss_d": math.nan, "loss_g": math.nan, "d_x": math.nan}
    d = diagnose([{"step": 1, "epoch": 1, **nan, "d_g_z1": math.nan, "d_g_z2": math.nan}])
    assert d.state == DIVERGED, d.to_text()
    assert "keep training" not in d.hint() and "step 1" in d.hint()
    few = _flat([1, 2, 3])
    few[-1]["loss_g"] = math.inf
    assert diagnose(few).state == DIVERGED


def test_early_saturated_loss_is_not_divergence() -> None:
    """A healthy start can log loss_G ≈ 30 for a while (the tutorial's CelebA run: 25–40 at
    iterations 50–150); before there are records for trends only NaN/inf count."""
    d = diagnose(_flat([10, 20, 30], loss_g=T.explode_loss))
    assert d.state == TOO_EARLY


def test_too_early_without_records_and_with_few() -> None:
    assert diagnose([]).state == TOO_EARLY
    d = diagnose(_flat([10]))
    assert d.state == TOO_EARLY and "Only 1 training record (step 10)" in d.advice
    assert "records" not in d.advice.split("(")[0].replace("training record", "")


# ------------------------------------------------------------------------------------------------
# FWD against the real-vs-real floor


def test_plateau_far_above_the_floor_is_stalled_not_converged(synth: SimpleNamespace) -> None:
    """The issue's run: the blog's setting plateaued at FWD 0.107–0.110, halves give 0.004."""
    records = synth.curves("healthy", 80)
    plateau = [0.30, 0.16, 0.11, 0.108, 0.107, 0.110]
    d = diagnose(
        records,
        quality=synth.fwd(plateau, floor=0.004),
        settings={"recipe": "blog", "epochs": 3, "g_lr": 1e-3, "d_lr": 2e-4},
    )
    assert d.state == HEALTHY
    assert d.title == "Healthy — stalled far from the data"
    assert "converged" not in d.hint() and "stop" not in d.hint()
    assert "(floor 4e-3)" in d.hint() and "×27 the floor" in d.hint()
    assert d.evidence["fwd_floor"] == 0.004 and d.evidence["fwd_floor_n"] == 2000
    assert d.evidence["fwd_floor_ratio"] == pytest.approx(0.107 / 0.004)
    advice = d.advice
    assert "stalled far from the data" in advice and "not converged" in advice
    assert "--g-lr 1e-4 --d-lr 1e-4" in advice  # the recent rates halved
    assert "--resume" in advice and "--epochs 6" in advice
    assert "--recipe" in advice and "tutorial:" in advice and "blog:" not in advice
    assert any("×27 the real-vs-real floor" in r for r in d.reasons)


def test_plateau_near_the_floor_is_converged(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 80)
    near = diagnose(records, quality=synth.fwd([0.08, 0.04, 0.031, 0.030, 0.0301], floor=0.004))
    assert near.title == "Healthy — converged" and "converged: stop" in near.hint()
    assert "×7.5 the real-vs-real floor" in near.advice
    # no floor recorded (runs from before it): as before
    old = diagnose(records, quality=synth.fwd([0.30, 0.16, 0.11, 0.108, 0.107, 0.110]))
    assert old.title == "Healthy — converged" and "fwd_floor" not in old.evidence


def test_boundary_fwd_floor_ratio(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 80)
    floor = 0.25  # best 2.5 = 10 × 0.25 exactly
    plateau = [4.0, 3.0, 2.5, 2.5, 2.5]
    at = diagnose(records, quality=synth.fwd(plateau, floor=floor))
    assert at.title == "Healthy — stalled far from the data"
    below = diagnose(records, quality=synth.fwd(plateau, floor=_up(floor)))
    assert below.title == "Healthy — converged"


def test_floor_beside_improving_and_past_best(synth: SimpleNamespace) -> None:
    records = synth.curves("healthy", 80)
    improving = diagnose(records, quality=synth.fwd([0.4, 0.3, 0.2, 0.15, 0.11], floor=0.004))
    assert improving.title == "Healthy — still improving"
    assert "the real-vs-real floor 4e-3" in improving.advice
    worse = diagnose(records, quality=synth.fwd([0.4, 0.2, 0.1, 0.105, 0.12], floor=0.004))
    assert worse.title == "Healthy — past its best"
    assert "best.safetensors" in worse.advice and "far from the data" in worse.advice
    assert "--recipe" in worse.advice


def test_floor_shows_in_every_hint_with_fwd(synth: SimpleNamespace) -> None:
    quality = synth.fwd([0.3], floor=0.004)
    for records in (synth.curves("healthy", 4), synth.curves("d_too_weak", 80)):
        hint = diagnose(records, quality=quality).hint()
        assert "FWD=0.3 (floor 4e-3)" in hint and len(hint) < 240


def test_report_and_quality_plot_show_the_floor(
    make_run: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(
        "floor", evals=[0.30, 0.16, 0.11, 0.108, 0.107, 0.110], fwd_floor=0.004, plots=False
    )
    d = diagnose_run(run)
    assert d.title == "Healthy — stalled far from the data"
    page = build_run_page(run)
    assert "real-vs-real floor 4e-3 (n=2000)" in page  # the line on the FWD chart
    assert "FWD real-vs-real floor" in page and "best FWD ÷ floor" in page  # evidence
    assert "×26.8 the real-vs-real floor" in page  # the chart's note

    drawn = {}

    def keep(fig: object, path: Path) -> None:
        drawn["fig"] = fig

    monkeypatch.setattr(plots, "save_figure", keep)
    from cxrgan.reporting.run_records import load_records

    plots.plot_quality(load_records(run)[1], run / "plots" / "quality.png")
    ax_fwd = drawn["fig"].axes[0]
    floor_lines = [ln for ln in ax_fwd.get_lines() if "real-vs-real floor" in ln.get_label()]
    assert len(floor_lines) == 1
    assert list(floor_lines[0].get_ydata()) == [0.004, 0.004]
    assert ax_fwd.get_ylim()[0] == 0
    # without a floor: no line
    plots.plot_quality(load_records(make_run("old", evals=[0.3, 0.2]))[1], run / "q.png")
    labels = [ln.get_label() for ln in drawn["fig"].axes[0].get_lines()]
    assert not any("floor" in label for label in labels)


def test_conditional_best_is_marked_by_its_worst_class(
    make_run: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxrgan.reporting.run_records import load_records

    run = make_run("conditional", evals=[0.30, 0.20, 0.10], fwd_floor=0.004, plots=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    worst = iter([0.5, 0.4, 0.9])  # the overall FWD improves while a class collapses
    for r in records:
        if "fwd" in r:
            r["fwd_worst_class"] = next(worst)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    step = [r["step"] for r in records if "fwd" in r][1]
    assert f"checkpoints/best: step {step}, worst class&#x27;s FWD 0.4" in build_run_page(run)
    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.update(fig=fig))
    plots.plot_quality(load_records(run)[1], run / "plots" / "quality.png")
    marks = [ln for ln in drawn["fig"].axes[0].get_lines() if ln.get_label().startswith("best")]
    assert [ln.get_label() for ln in marks] == [f"best (worst class) 0.4 (step {step})"]
    assert list(marks[0].get_ydata()) == [0.4]


def test_a_conditional_run_is_judged_by_its_worst_class(synth: SimpleNamespace) -> None:
    """The overall FWD still improves while the minority class collapses: diagnose follows
    the class, as `best` does, against that class's own floor."""
    records = synth.curves("healthy", 80)
    quality = synth.fwd([0.4, 0.3, 0.2, 0.15, 0.11], floor=0.004)
    assert diagnose(records, quality=quality).title == "Healthy — still improving"
    for r, worst in zip(quality, [0.6, 0.3, 0.25, 0.4, 0.5], strict=True):
        r["fwd_worst_class"] = worst
        r["per_class"] = {
            "NORMAL": {"fwd": worst, "n": 500, "fwd_floor": 0.02},
            "PNEUMONIA": {"fwd": worst / 2, "n": 1500, "fwd_floor": 0.006},
        }
    d = diagnose(records, quality=quality)
    assert d.title == "Healthy — past its best"
    assert d.advice.startswith(
        "The worst class's FWD has stopped improving and the latest (0.5) is worse than the "
        "best (0.25)"
    )
    assert "×12 its class's real-vs-real floor (0.02)" in d.advice  # 0.25 / 0.02 = 12.5
    assert d.evidence["fwd_best"] == 0.25 and d.evidence["fwd_floor"] == 0.02
    assert d.evidence["fwd_floor_n"] == 500
    assert "worst class's FWD=0.5 (floor 0.02)" in d.hint()


def test_a_run_the_trainer_stopped_as_diverged_is_diverged_whatever_its_losses() -> None:
    from cxrgan.reporting.diagnose import diagnose
    from cxrgan.reporting.thresholds import DIVERGED

    records = [
        {"step": s, "loss_d": 1.2, "loss_g": 1.0, "d_x": 0.6, "d_g_z1": 0.4, "d_g_z2": 0.4}
        for s in range(10, 210, 10)
    ]
    assert diagnose(records).state != DIVERGED
    d = diagnose(records, stopped="diverged: non-finite weights at step 200")
    assert d.state == DIVERGED


def test_plateau_while_the_rates_still_decay_is_not_convergence(synth: SimpleNamespace) -> None:
    """Version 3's long runs levelled off in FWD at ~20 of 30 minutes while the decay still had
    its lowest rates to come, and their EMA sharpened in those minutes: keep training."""
    quality = synth.fwd([0.08, 0.04, 0.031, 0.030, 0.0301], floor=0.004)
    cosine = {"lr_schedule": "cosine", "lr_floor": 0.05}

    def at_scale(scale: float, settings: dict):
        records = [{**r, "lr_scale": scale} for r in synth.curves("healthy", 80)]
        return diagnose(records, quality=quality, settings=settings)

    midway = at_scale(0.4, cosine)
    assert midway.state == HEALTHY and midway.title == "Healthy — plateaued while the rates decay"
    assert "keep training" in midway.hint() and "stop" not in midway.hint()
    assert "now 0.4 × --g-lr/--d-lr, 0.05 × at the end" in midway.advice
    assert "--resume" in midway.advice
    held = at_scale(1.0, {**cosine, "lr_hold_kimg": 16.0})  # before the decay starts
    assert held.title == "Healthy — plateaued while the rates decay"
    # 5 % of the decay left is the boundary: 0.05 + 0.05 × 0.95 = 0.0975
    assert at_scale(0.097, cosine).title == "Healthy — converged"
    assert at_scale(0.098, cosine).title == "Healthy — plateaued while the rates decay"
    assert at_scale(0.05, cosine).title == "Healthy — converged"  # the end of the budget
    constant = {"lr_schedule": "constant", "lr_floor": 0.05}
    assert at_scale(1.0, constant).title == "Healthy — converged"
