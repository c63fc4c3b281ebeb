"""Differentially private training (--dp-epsilon, docs/privacy.md): DP-SGD through Opacus on
D, the accountant against Opacus's own figures, exact resume, and every refusal."""

import dataclasses
import os
import shutil
import signal

import pytest
import torch
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from run_files import config, last_tensors
from run_files import records as _records
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.models import ModelSpec, build_models
from cxrgan.privacy.target import open_target
from cxrgan.training import private
from cxrgan.training.sampler import PoissonSampler
from cxrgan.training.session import resume_run, start_run
from cxrgan.training.setup import build_trainer

# Opacus warns that few steps make the largest order the tightest
pytestmark = pytest.mark.filterwarnings("ignore:Optimal order is the largest alpha")

DP = {**TINY_CONFIG, "demo_images": 64, "steps_per_epoch": 3, "log_every": 1, "dp_epsilon": 4.0,
      "dp_delta": 1e-3, "augment": "none"}  # fmt: skip


def _stopped(run):
    return config(run)["stopped"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A DP run of 2 epochs of 3 steps, unbroken."""
    run = tmp_path_factory.mktemp("dp") / "straight"
    start_run(TrainConfig(out=str(run), epochs=2, **DP))
    return run


def test_dp_run_spends_what_opacus_accountant_says(straight):
    run = straight
    q = 16 / 64  # batch / images: Poisson sampling's rate
    sigma = get_noise_multiplier(target_epsilon=4.0, target_delta=1e-3, sample_rate=q, steps=6,
                                 accountant="rdp")  # fmt: skip
    accountant = RDPAccountant()
    epsilons = []
    for _ in range(6):
        accountant.step(noise_multiplier=sigma, sample_rate=q)
        epsilons.append(accountant.get_epsilon(1e-3))
    logged = [r["dp_epsilon"] for r in _records(run)]
    assert logged == pytest.approx(epsilons, abs=1e-5)
    assert 3.0 < logged[-1] <= 4.0  # the noise was chosen to spend the budget, not more
    stopped = _stopped(run)
    assert stopped["reason"] == "completed"
    assert stopped["privacy"]["epsilon"] == pytest.approx(epsilons[-1], abs=1e-5)
    assert stopped["privacy"]["noise_multiplier"] == pytest.approx(sigma)
    assert (stopped["privacy"]["steps"], stopped["privacy"]["sample_rate"]) == (6, q)
    log = (run / "train.log").read_text()
    assert "[epoch 2/2] step 6" in log and f"ε {epsilons[-1]:.3f}" in log


def _interrupt_after(monkeypatch, steps):
    step = private.PrivateD.d_step
    calls = []

    def d_step(self, loss, batch):
        calls.append(1)
        if len(calls) == steps:
            os.kill(os.getpid(), signal.SIGTERM)
        return step(self, loss, batch)

    monkeypatch.setattr(private.PrivateD, "d_step", d_step)


def test_resumed_dp_run_ends_with_the_same_epsilon(straight, tmp_path, monkeypatch):
    split = tmp_path / "split"
    with monkeypatch.context() as m:
        _interrupt_after(m, 4)  # in the second epoch
        start_run(TrainConfig(out=str(split), epochs=2, **DP))
    assert _stopped(split)["reason"] == "interrupted" and _stopped(split)["step"] == 4
    resume_run(split, {})
    a, b = _stopped(straight)["privacy"], _stopped(split)["privacy"]
    assert b["steps"] == 6 and b["epsilon"] == a["epsilon"]
    logged = [r["dp_epsilon"] for r in _records(split)]
    assert logged == [r["dp_epsilon"] for r in _records(straight)]
    a, b = last_tensors(straight), last_tensors(split)  # the noise's RNG too: the same weights
    weights = [k for k in a if k.startswith(("G.", "D."))]
    assert len(weights) > 20 and all(torch.equal(a[k], b[k]) for k in weights)


def test_resume_past_the_budget_is_refused(straight, tmp_path):
    run = shutil.copytree(straight, tmp_path / "run")
    with pytest.raises(CxrganError, match=r"--epochs 3 would take this DP run past its budget"):
        resume_run(run, {"epochs": 3})


def test_batch_norm_of_d_becomes_group_norm():
    spec = ModelSpec("dcgan", z_dim=16, resolution=32, kwargs={"ngf": 8, "ndf": 8})
    _, d = build_models(spec)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    _, d = build_models(dataclasses.replace(spec, d_group_norm=True))
    d = private.dp_compatible(d, "dcgan")
    norms = [m for m in d.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert norms and not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    assert not any(getattr(m, "inplace", False) for m in d.modules())
    x = torch.randn(3, 1, 32, 32)  # per-image: D of one image alone is D of it in a batch
    assert torch.allclose(d(x[:1], None), d(x, None)[:1], atol=1e-5)


def test_poisson_batches_vary_around_the_batch_size_and_resume():
    images = torch.zeros(200, 8, 8, dtype=torch.uint8)
    sampler = PoissonSampler(images, None, batch_size=20, seed=0)
    assert sampler.sample_rate == 0.1
    sizes = [len(sampler.next()[0]) for _ in range(200)]
    assert len(set(sizes)) > 5 and abs(sum(sizes) / len(sizes) - 20) < 1.5
    saved = sampler.state()
    again = PoissonSampler(images, None, batch_size=20, seed=1)
    again.load_state(*saved)
    assert [len(again.next()[0]) for _ in range(5)] == [len(sampler.next()[0]) for _ in range(5)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"r1_gamma": 1.0}, "--dp-epsilon needs --r1-gamma 0"),
        ({"precision": "fp16"}, "--dp-epsilon runs in fp32 or bf16"),
        ({"balance": "auto"}, "--dp-epsilon needs --balance off"),
        ({"dp_delta": 1.5}, "--dp-delta"),
        ({"dp_epsilon": 0.0}, "--dp-epsilon"),
    ],
)
def test_settings_dp_cannot_combine_with_are_refused(change, message):
    with pytest.raises(CxrganError, match=message):
        TrainConfig(**{**DP, **change}).validate()


def test_a_delta_not_below_one_over_the_images_is_refused(tmp_path):
    with pytest.raises(CxrganError, match=r"--dp-delta 0.02 must be below 1 / the 64 training"):
        start_run(TrainConfig(out=str(tmp_path / "run"), epochs=1, **{**DP, "dp_delta": 0.02}))


def test_dp_with_several_processes_is_refused():
    with pytest.raises(CxrganError, match="--dp-epsilon trains in one process"):
        build_trainer(TrainConfig(**DP), None, None, torch.device("cpu"), world_size=2)


def test_a_d_opacus_cannot_wrap_is_refused_in_one_line(tmp_path):
    with pytest.raises(CxrganError, match=r"Opacus cannot wrap --model dcgan's D: .*Spectral") as e:
        start_run(TrainConfig(out=str(tmp_path / "run"), epochs=1, d_spectral_norm=True, **DP))
    assert "\n" not in str(e.value)


def test_without_opacus_dp_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "opacus", None)
    with pytest.raises(CxrganError, match=r"pip install -e '\.\[dp\]' from a cxrgan checkout"):
        private._opacus()


def test_an_empty_poisson_batch_is_a_step_of_noise_alone(tmp_path):
    """Batch 1 of 64 images: about a third of the steps draw no image. Each still counts for
    the accountant, and its record has the loss on generated images only."""
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=1, **{**DP, "batch_size": 1, "steps_per_epoch": 6}))
    records = _records(run)
    assert len(records) == 6 and any("d_x" not in r for r in records)
    assert all(r.get("loss_d_real", 0) + r["loss_d_fake"] == pytest.approx(r["loss_d"])
               for r in records)  # fmt: skip
    assert _stopped(run)["privacy"]["steps"] == 6


def test_the_audit_opens_a_dp_run_with_its_group_norm_d(straight):
    target = open_target(straight, "last", "cpu")
    assert target.spec.d_group_norm and "D+GN" in target.spec.describe()
    assert any(isinstance(m, torch.nn.GroupNorm) for m in target.d.modules())


def test_the_run_stops_when_the_accountant_says_the_budget_is_spent(tmp_path, monkeypatch):
    monkeypatch.setattr(private.PrivateD, "exhausted", lambda self: self.steps >= 2)
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=1, **DP))
    stopped = _stopped(run)
    assert stopped["reason"] == "budget: the privacy budget ε=4 is spent"
    assert stopped["step"] == stopped["privacy"]["steps"] == 2


def test_resume_on_other_data_is_refused():
    """Images added or removed change q = batch / N: the saved accountant no longer holds."""
    spec = ModelSpec("dcgan", z_dim=16, resolution=32, kwargs={"ngf": 8, "ndf": 8},
                     d_group_norm=True)  # fmt: skip
    _, d = build_models(spec)
    d = private.dp_compatible(d, "dcgan")
    opt = torch.optim.Adam(d.parameters())
    dp = private.PrivateD(d, opt, TrainConfig(**DP), batch_size=16, sample_rate=0.2,
                          total_steps=6)  # fmt: skip
    saved = {"history": [[1.0, 0.25, 3]], "noise": 1.0, "total_steps": 6, "sample_rate": 0.25}
    with pytest.raises(CxrganError, match=r"sampled its batches at rate 0.25 and the data now"):
        dp.load_state(saved, epochs=2)
    dp.sample_rate = 0.25
    dp.load_state(saved, epochs=2)
    assert (dp.steps, dp.noise, dp.opt.noise_multiplier) == (3, 1.0, 1.0)


def test_the_model_card_states_the_guarantee(straight):
    from cxrgan.privacy.card import privacy_card_lines

    card = "\n".join(privacy_card_lines(straight))
    eps = _stopped(straight)["privacy"]["epsilon"]
    assert f"ε = {eps:.3g} spent of 4, δ = 0.001, over 6 steps." in card
    assert "Not audited" in card  # no cxrgan privacy run yet


def test_diagnose_and_the_report_show_the_epsilon_spent(straight):
    from cxrgan.reporting.diagnose import diagnose_run
    from cxrgan.reporting.html_report import write_report

    eps = _records(straight)[-1]["dp_epsilon"]
    evidence = diagnose_run(straight).evidence
    assert (evidence["dp_epsilon"], evidence["dp_epsilon_budget"]) == (pytest.approx(eps), 4.0)
    html = write_report(straight).read_text()
    assert "differential privacy: ε " in html and " of 4 spent" in html
