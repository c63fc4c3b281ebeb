"""The default recipe under --dp-epsilon (docs/privacy.md): ADA runs at the fixed --dp-ada-p,
never adapted from D's outputs on real images, the accountant spends no more than the budget,
and a resumed run keeps both."""

import os
import signal

import pytest
import torch
from run_files import config
from run_files import records as _records

from cxrgan.augment.ada import ADA
from cxrgan.config import TrainConfig
from cxrgan.dp_settings import augment_options
from cxrgan.errors import CxrganError
from cxrgan.recipes import DEFAULT_RECIPE, RECIPES
from cxrgan.training import private
from cxrgan.training.session import resume_run, start_run

pytestmark = pytest.mark.filterwarnings("ignore:Optimal order is the largest alpha")

# The default recipe as it is (batch 16, EMA, ADA), shrunk to tiny networks and images.
DEFAULT_DP = {"image_size": 32, "ngf": 8, "ndf": 8, "nz": 16, "device": "cpu", "progress": False,
              "demo_images": 64, "steps_per_epoch": 3, "log_every": 1, "dp_epsilon": 4.0,
              "dp_delta": 1e-3}  # fmt: skip


def _stopped(run):
    return config(run)["stopped"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    run = tmp_path_factory.mktemp("dp-ada") / "straight"
    start_run(TrainConfig(out=str(run), epochs=2, **DEFAULT_DP))
    return run


def test_the_default_recipe_trains_under_dp_with_ada_at_the_fixed_p(straight):
    info = config(straight)
    settings = info["config"]
    assert info["recipe"]["name"] == DEFAULT_RECIPE
    assert RECIPES[DEFAULT_RECIPE].settings["augment"] == "ada"
    assert (settings["augment"], settings["dp_ada_p"]) == ("ada", 0.1)
    records = _records(straight)
    assert len(records) == 6 and [r["augment_p"] for r in records] == [pytest.approx(0.1)] * 6
    stopped = _stopped(straight)
    assert stopped["privacy"]["ada_fixed_p"] == 0.1
    assert 0 < stopped["privacy"]["epsilon"] <= 4.0
    assert all(0 < r["dp_epsilon"] <= 4.0 for r in records)
    log = (straight / "train.log").read_text()
    assert "ADA fixed at p=0.1 (not adapted from real images: docs/privacy.md)" in log


def test_the_model_card_says_augmentation_was_fixed(straight):
    from cxrgan.privacy.card import privacy_card_lines

    card = "\n".join(privacy_card_lines(straight))
    assert "steps. Augmentation at a fixed strength p = 0.1, not adapted from real images." in card


def test_the_fixed_p_is_what_dp_ada_p_says_and_only_under_dp():
    cfg = TrainConfig(**{**DEFAULT_DP, "dp_ada_p": 0.3}).validate()
    assert augment_options(cfg) == {"target": None, "p": 0.3}
    assert augment_options(cfg.replace(dp_epsilon=None)) == {}  # ADA adapts without DP
    assert augment_options(cfg.replace(augment="diff")) == {}
    with pytest.raises(CxrganError, match="--dp-ada-p"):
        TrainConfig(**{**DEFAULT_DP, "dp_ada_p": 1.0}).validate()


def test_real_logits_leave_no_trace_in_the_fixed_ada():
    """The loss tells ADA D's logits on real images at every step; at a fixed p none of them
    changes a buffer, so the checkpoint holds nothing computed from real images outside DP."""
    ada = ADA(**augment_options(TrainConfig(**DEFAULT_DP)))
    before = {k: v.clone() for k, v in ada.state_dict().items()}
    for _ in range(40):
        ada.observe(torch.randn(16) + 3)
    assert all(torch.equal(before[k], v) for k, v in ada.state_dict().items())
    assert ada.p == pytest.approx(0.1)


def test_a_resumed_default_recipe_dp_run_keeps_p_and_epsilon(straight, tmp_path, monkeypatch):
    step, calls = private.PrivateD.d_step, []

    def d_step(self, loss, batch):
        calls.append(1)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return step(self, loss, batch)

    split = tmp_path / "split"
    with monkeypatch.context() as m:
        m.setattr(private.PrivateD, "d_step", d_step)
        start_run(TrainConfig(out=str(split), epochs=2, **DEFAULT_DP))
    assert _stopped(split)["reason"] == "interrupted"
    resume_run(split, {})
    a, b = _stopped(straight)["privacy"], _stopped(split)["privacy"]
    assert (b["steps"], b["epsilon"], b["ada_fixed_p"]) == (6, a["epsilon"], 0.1)
    assert [r["augment_p"] for r in _records(split)] == [pytest.approx(0.1)] * 6
