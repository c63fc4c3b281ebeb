"""The default recipe's real-data quality guard: 300 steps of the default recipe on the Kaggle
split with 15 % of patients held out must reach a held-out FWD below a bound derived from
several seeds, so a change that costs quality fails CI and seed-to-seed noise does not.

The protocol is tests/quality_guard.py. Measured there on 2026-12-07 (2 cores, alone, torch
2.13 CPU), `--seeds 0,1,2,3`: FWD 0.0598, 0.0613, 0.0629, 0.0602 (mean 0.0611, sample sd
0.0014; real-vs-real floor 0.0039 at n = 768). The bound, 0.070, is the mean + 6 sd, 1.11 ×
the worst seed. Regressions it catches, same protocol: without the EMA generator
(`--set ema_kimg=0`, seeds 0 and 1) FWD 0.123 and 0.134; the blog's recipe (batch 128, no EMA,
no ADA; seed 0) 0.152.
"""

import pytest
from quality_guard import run_guard

BOUND = 0.070


@pytest.mark.shared_data
def test_the_default_recipe_reaches_its_measured_held_out_quality(kaggle224, tmp_path):
    result = run_guard(kaggle224, tmp_path, seed=0)
    assert result.n == 768  # the held-out patients' films, all of them
    assert result.floor == pytest.approx(0.0039, abs=0.0005)
    assert result.fwd <= BOUND, f"held-out FWD {result.fwd:.4f} > {BOUND}: the recipe regressed"
