"""A run whose FWD rises for several evaluations after its best is called getting worse, by
`diagnose` and in the report, with the step of its best and advice that fits its recipe; read
from recorded metrics only (no training)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from cxrgan.reporting.diagnose import diagnose, diagnose_run
from cxrgan.reporting.html_report import write_report
from cxrgan.reporting.thresholds import GETTING_WORSE, HEALTHY

SMALL_DATA = {"recipe": "small-data", "loss": "bce", "augment": "ada", "ema_kimg": 10.0}
# best at the third evaluation (step 240), then three evaluations > 10 % above it
RISING = [0.30, 0.12, 0.05, 0.062, 0.07, 0.075]


def test_fwd_rising_after_its_best_is_getting_worse(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("healthy", 80), quality=synth.fwd(RISING), settings=SMALL_DATA)
    assert (d.state, d.title) == (GETTING_WORSE, "Getting worse")
    assert d.reasons == [
        "FWD was best at step 240 (0.05) and has been more than 10% above it in each of the "
        "last 3 evaluations (latest 0.075, +50%)"
    ]
    assert d.advice.startswith(
        "FWD was best at step 240 (0.05) and has been worse in each of the last 3 evaluations "
        "(latest 0.075): the run is getting worse"
    )
    assert "checkpoints/best.safetensors holds the generator of step 240" in d.advice
    assert "small-data keeps its rates constant" in d.advice and "--lr-schedule cosine" in d.advice
    assert "worse since step 240: use best" in d.hint()


def test_two_evaluations_above_the_best_are_not_yet_a_trend(synth: SimpleNamespace) -> None:
    d = diagnose(synth.curves("healthy", 80), quality=synth.fwd(RISING[:-1]), settings=SMALL_DATA)
    assert (d.state, d.title) == (HEALTHY, "Healthy — past its best")
    back = diagnose(synth.curves("healthy", 80), quality=synth.fwd([*RISING, 0.053]))
    assert back.state == HEALTHY  # within 10 % of the best again: no longer getting worse


def test_a_decaying_schedule_gets_other_advice(synth: SimpleNamespace) -> None:
    settings = {**SMALL_DATA, "lr_schedule": "cosine"}
    d = diagnose(synth.curves("healthy", 80), quality=synth.fwd(RISING), settings=settings)
    assert d.state == GETTING_WORSE
    assert "--lr-schedule" not in d.advice and "already decay with the budget" in d.advice


def test_the_worst_class_getting_worse_while_the_overall_fwd_improves(
    synth: SimpleNamespace,
) -> None:
    """A conditional run's minority class collapsing under an improving overall FWD."""
    overall = [0.30, 0.12, 0.05, 0.045, 0.04, 0.038]
    worst = [0.40, 0.15, 0.06, 0.08, 0.09, 0.11]
    quality = synth.fwd(overall)
    for record, w in zip(quality, worst, strict=True):
        record["fwd_worst_class"] = w
        record["per_class"] = {
            "NORMAL": {"fwd": w, "kid_mean": w / 1e3, "n": 200, "fwd_floor": 0.004},
            "PNEUMONIA": {"fwd": w / 2, "kid_mean": w / 2e3, "n": 600, "fwd_floor": 0.003},
        }
    settings = {**SMALL_DATA, "conditional": True, "d_lr": 2e-4}
    d = diagnose(synth.curves("healthy", 80), quality=quality, settings=settings)
    assert d.state == GETTING_WORSE
    assert d.reasons[0].startswith("The worst class's FWD was best at step 240 (0.06)")
    assert "halve D's rate" in d.advice and "--d-lr 1e-4" in d.advice


def test_the_report_says_so_too(make_run: Callable[..., Path]) -> None:
    run = make_run("worse", evals=RISING, settings=SMALL_DATA, fwd_floor=0.004)
    d = diagnose_run(run)
    assert d.state == GETTING_WORSE and "best at step 240" in d.reasons[0]
    source = write_report(run).read_text()
    text = html.unescape(re.sub(r"<[^>]+>", " ", source.split("</style>", 1)[1]))
    text = " ".join(text.split())
    assert "Getting worse" in text
    assert "FWD was best at step 240 (0.05) and has been worse in each of the last 3" in text
    assert json.loads((run / "config.json").read_text())["config"]["recipe"] == "small-data"


def test_fwd_rising_while_kid_falls_by_half_is_a_disagreement(synth: SimpleNamespace) -> None:
    """Version 3's conditional run: plain FWD rose after step 4,000 while KID fell 13-fold and
    `last` made the better training data; the advice must not send the user to `best`."""
    quality = synth.fwd(RISING)
    for record, kid in zip(quality, [20.0, 12.0, 10.0, 7.0, 5.0, 4.0], strict=True):
        record["kid_mean"] = kid
    d = diagnose(synth.curves("healthy", 80), quality=quality, settings=SMALL_DATA)
    assert (d.state, d.title) == (GETTING_WORSE, "FWD and KID disagree")
    assert d.advice.startswith(
        "FWD was best at step 240 (0.05) and has been worse in each of the last 3 evaluations "
        "(latest 0.075), but KID has fallen from 10 to 4 since: the two disagree."
    )
    assert "cxrgan evaluate" in d.advice and "use best" not in d.hint()
    assert "compare best and last" in d.hint()
    quality[-1]["kid_mean"] = 5.5  # 0.55 of KID at the best: not yet half
    assert diagnose(synth.curves("healthy", 80), quality=quality, settings=SMALL_DATA).title == (
        "Getting worse"
    )
    past = diagnose(synth.curves("healthy", 80), quality=quality[:5], settings=SMALL_DATA)
    assert past.title == "FWD and KID disagree" and "has stopped improving" in past.advice


def test_a_conditional_run_reads_the_worst_class_s_kid(synth: SimpleNamespace) -> None:
    worst = [0.40, 0.15, 0.06, 0.08, 0.09, 0.11]
    quality = synth.fwd([0.30, 0.12, 0.05, 0.045, 0.04, 0.038])
    for record, w, kid in zip(quality, worst, [20, 15, 13.5, 8.7, 2.3, 1.0], strict=True):
        record["fwd_worst_class"] = w
        record["per_class"] = {
            "NORMAL": {"fwd": w, "kid_mean": kid, "n": 200, "fwd_floor": 0.004},
            "PNEUMONIA": {"fwd": w / 2, "kid_mean": 5.0, "n": 600, "fwd_floor": 0.003},
        }
    settings = {**SMALL_DATA, "conditional": True, "d_lr": 2e-4}
    d = diagnose(synth.curves("healthy", 80), quality=quality, settings=settings)
    assert (d.state, d.title) == (GETTING_WORSE, "FWD and KID disagree")
    assert "NORMAL's KID has fallen from 13.5 to 1 since" in d.advice
    assert "cxrgan utility" in d.advice and "--checkpoint last" in d.advice
