"""The three contracts of the GAN core: loss phases, the sampler's shares, TrainState."""

import math

import pytest
import torch
from torch import nn

from cxrgan.augment.base import Augmentation
from cxrgan.losses import LOSSES
from cxrgan.losses.base import GanLoss, Phase, StepBatch
from cxrgan.models import ModelSpec, build_models
from cxrgan.models.base import Discriminator
from cxrgan.training.sampler import BatchSampler
from cxrgan.training.state import Counters, TrainState
from cxrgan.training.step import StepStats, bind_phases, train_step


class LinearD(Discriminator):
    """D(x) = w·x + b: its input gradient is w for every image, so R1 = ‖w‖²."""

    def __init__(self, size: int = 4):
        super().__init__(0, size, 1)
        self.lin = nn.Linear(size * size, 1)

    def logits(self, x, c=None):
        return self.lin(x.flatten(1)).view(-1)


class ShiftAugment(Augmentation):
    def forward(self, x):
        return x + 1.0


def test_bce_loss_matches_hand_computed_values():
    loss = LOSSES.load("bce")(nn.Identity(), nn.Identity())
    logits = torch.tensor([-2.0, 0.0, 3.0])
    sig = [1 / (1 + math.exp(-v)) for v in logits.tolist()]
    assert loss.d_real_loss(logits).item() == pytest.approx(-sum(map(math.log, sig)) / 3)
    assert loss.d_fake_loss(logits).item() == pytest.approx(-sum(math.log(1 - s) for s in sig) / 3)
    assert loss.g_loss(logits).item() == pytest.approx(-sum(map(math.log, sig)) / 3)


def test_r1_equals_its_analytic_value_on_a_linear_d():
    torch.manual_seed(0)
    d = LinearD()
    loss = LOSSES.load("bce")(nn.Identity(), d, r1_gamma=0.5, r1_interval=16)
    real = torch.randn(6, 1, 4, 4)
    stats = loss.accumulate_gradients("Dreg", StepBatch(real, None, None, None), gain=16)
    w = d.lin.weight.detach()
    assert stats["r1_penalty"].item() == pytest.approx(w.square().sum().item(), rel=1e-6)
    # d/dw of gain · γ/2 · ‖w‖² is gain · γ · w; the bias does not enter R1.
    torch.testing.assert_close(d.lin.weight.grad, 16 * 0.5 * w)
    assert d.lin.bias.grad is None or d.lin.bias.grad.abs().max() == 0


def test_phases_run_at_their_intervals_with_lazy_r1():
    g, d = build_models(ModelSpec("dcgan", 8, 32, kwargs={"ngf": 4, "ndf": 4}))
    loss = LOSSES.load("bce")(g, d, r1_gamma=1.0, r1_interval=4)
    assert loss.phases() == [Phase("Dmain", "D"), Phase("Dreg", "D", 4), Phase("Gmain", "G")]
    opts = {n: (m, torch.optim.SGD(m.parameters(), 0.0)) for n, m in (("G", g), ("D", d))}
    phases = bind_phases(loss, opts)
    ran = []
    for step in range(6):
        batch = StepBatch(torch.zeros(4, 1, 32, 32), None, g.sample_latents(4), None)
        ran.append("r1_penalty" in train_step(loss, phases, batch, step))
    assert ran == [True, False, False, False, True, False]


def test_run_d_is_where_augmentation_reaches_d_for_real_and_fake():
    seen = []

    class Spy(Discriminator):
        def __init__(self):
            super().__init__(0, 2, 1)
            self.w = nn.Parameter(torch.ones(()))

        def logits(self, x, c=None):
            seen.append(x.detach().clone())
            return x.flatten(1).mean(1) * self.w

    class ZeroG(nn.Module):
        def forward(self, z, c=None):
            return torch.zeros(len(z), 1, 2, 2) + 0 * z.sum()

    loss = LOSSES.load("bce")(ZeroG(), Spy(), augment=ShiftAugment())
    batch = StepBatch(torch.full((2, 1, 2, 2), -1.0), None, torch.zeros(2, 3), None)
    loss.accumulate_gradients("Dmain", batch)
    loss.accumulate_gradients("Gmain", batch)
    assert [x.mean().item() for x in seen] == [1.0, 0.0, 1.0]  # fake, real, fake: all shifted


def test_d_aux_loss_joins_d_real_loss_and_adaptive_augment_sees_real_logits():
    observed = []

    class Observer(ShiftAugment):
        def observe(self, logits):
            observed.append(logits)

    class AuxD(LinearD):
        def logits_with_aux(self, x, c=None):
            return self.logits(x, c), self.lin.weight.square().sum()

    d = AuxD(2)
    loss = LOSSES.load("bce")(lambda z, c: torch.zeros(len(z), 1, 2, 2), d, augment=Observer())
    batch = StepBatch(torch.zeros(3, 1, 2, 2), None, torch.zeros(3, 1), None)
    stats = loss.accumulate_gradients("Dmain", batch)
    w = d.lin.weight.detach()
    assert stats["loss_d_aux"].item() == pytest.approx(w.square().sum().item())
    assert len(observed) == 1 and observed[0].shape == (3,)  # real logits only, not fakes


def test_a_loss_needs_only_its_three_logit_losses():
    class Hinge(GanLoss):
        def d_real_loss(self, logits):
            return torch.relu(1 - logits).mean()

        def d_fake_loss(self, logits):
            return torch.relu(1 + logits).mean()

        def g_loss(self, logits):
            return -logits.mean()

    d = LinearD(2)
    with torch.no_grad():
        d.lin.weight.fill_(0.5)
        d.lin.bias.zero_()
    loss = Hinge(lambda z, c: torch.ones(len(z), 1, 2, 2), d)
    batch = StepBatch(torch.ones(3, 1, 2, 2), None, torch.zeros(3, 1), None)
    stats = loss.accumulate_gradients("Dmain", batch)
    assert stats["loss_d"].item() == pytest.approx(0 + 3)  # D = 2 on both: relu(-1) + relu(3)


@pytest.mark.parametrize("hflip", [False, True])
def test_ranks_take_disjoint_shares_of_the_same_batches(hflip):
    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1).expand(40, 2, 2).contiguous()
    labels = torch.arange(40) % 3
    single = BatchSampler(images, labels, 8, seed=3, hflip=hflip)
    ranks = [BatchSampler(images, labels, 8, 3, hflip, rank=r, world_size=2) for r in range(2)]
    for _ in range(12):  # more than one pass: the permutation is redrawn identically
        x, y = single.next()
        shares = [s.next() for s in ranks]
        torch.testing.assert_close(torch.cat([s[0] for s in shares]), x)
        torch.testing.assert_close(torch.cat([s[1] for s in shares]), y)
        assert shares[0][0].shape[0] == 4
        assert torch.equal(y, torch.round((x[:, 0, 0, 0] + 1) * 127.5).long() % 3)


def test_step_stats_average_each_statistic_over_the_steps_that_logged_it():
    stats = StepStats()
    stats.add({"loss_d": torch.tensor(1.0), "r1_penalty": torch.tensor(4.0)})
    stats.add({"loss_d": torch.tensor(3.0)})
    assert stats.pop_means() == {"loss_d": 2.0, "r1_penalty": 4.0}
    assert stats.pop_means() == {}


def _state(seed: int) -> TrainState:
    torch.manual_seed(seed)
    spec = ModelSpec("dcgan", 8, 32, kwargs={"ngf": 4, "ndf": 4})
    g, d = build_models(spec)
    g_ema, _ = build_models(spec)
    aug = nn.Module()
    aug.register_buffer("p", torch.tensor([0.1 * seed]))
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    data_gen = torch.Generator().manual_seed(0)  # the data is the same; the state is not
    images = torch.randint(0, 255, (20, 32, 32), dtype=torch.uint8, generator=data_gen)
    sampler = BatchSampler(images, torch.zeros(20, dtype=torch.long), 4, seed)
    gen = torch.Generator().manual_seed(seed)
    return TrainState(spec, g, d, opt_g, opt_d, sampler, gen, g.sample_latents(4, generator=gen),
                      g_ema=g_ema, augment=aug)  # fmt: skip


def test_train_state_round_trips_everything():
    a = _state(1)
    loss = LOSSES.load("bce")(a.g, a.d, augment=None)
    phases = bind_phases(loss, {"G": (a.g, a.opt_g), "D": (a.d, a.opt_d)})
    real, _ = a.sampler.next()
    train_step(loss, phases, StepBatch(real, None, a.g.sample_latents(4), None), 0)
    a.counters = Counters(epoch=2, step=7, step_in_epoch=1, elapsed_s=1.5)
    a.extras = {"quality": {"best_fwd": 0.5}}
    ckpt = a.state_dict()
    assert {"format", "model_spec", "state"} <= ckpt.meta.keys()

    b = _state(2)
    b.load_state_dict(ckpt)
    again = b.state_dict()
    assert again.tensors.keys() == ckpt.tensors.keys()
    for key, value in ckpt.tensors.items():
        assert torch.equal(again.tensors[key], value), key
    assert again.meta == ckpt.meta
    assert b.augment.p.item() == pytest.approx(0.1)
    assert b.counters == a.counters and b.extras == a.extras
    # The RNGs continue where they were: the next batch and latents are the same.
    torch.testing.assert_close(b.sampler.next()[0], a.sampler.next()[0])
    torch.testing.assert_close(
        b.g.sample_latents(2, generator=b.noise_gen), a.g.sample_latents(2, generator=a.noise_gen)
    )


def test_rates_are_read_and_set_for_every_param_group_and_saved():
    s = _state(1)
    s.opt_g.add_param_group({"params": [nn.Parameter(torch.zeros(1))], "lr": 9.0})
    assert s.rates() == (s.opt_g.param_groups[0]["lr"], s.opt_d.param_groups[0]["lr"])
    s.set_rates(1e-3, 5e-5)
    assert s.rates() == (1e-3, 5e-5)
    assert [g["lr"] for g in s.opt_g.param_groups] == [1e-3, 1e-3]  # every group of G
    assert [g["lr"] for g in s.opt_d.param_groups] == [5e-5]
    restored = _state(2)
    restored.opt_g.add_param_group({"params": [nn.Parameter(torch.zeros(1))], "lr": 9.0})
    restored.load_state_dict(s.state_dict())  # the rates travel in the checkpoint
    assert restored.rates() == (1e-3, 5e-5)


def test_only_the_main_process_runs_side_effects(tmp_path, monkeypatch):
    from tiny import TINY_CONFIG

    from cxrgan.config import TrainConfig
    from cxrgan.data.source import load_phantoms
    from cxrgan.training.device import resolve_device
    from cxrgan.training.loop import train
    from cxrgan.training.setup import build_trainer

    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig(epochs=1, steps_per_epoch=2, log_every=1, **TINY_CONFIG)
    data = load_phantoms(32, 32, seed=0)
    t = build_trainer(cfg, None, data, resolve_device(cfg.device), rank=1, world_size=2)
    assert t.callbacks == [] and not t.master_process
    assert t.state.sampler.local_batch_size == 8
    assert train(t) == "completed"
    assert t.state.counters.step == 2
    assert list(tmp_path.iterdir()) == []  # no run directory, no files
