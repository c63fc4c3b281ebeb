"""The EMA generator's arithmetic: half-life, ramp-up and the update itself."""

import pytest
import torch
from torch import nn

from cxrgan.training.ema import EMA, make_ema_copy


def test_half_life_in_images_means_half_the_weight_after_it():
    ema = EMA(kimg=10, rampup=None)
    beta = ema.beta(batch_size=64, images_seen=10**6)
    steps = 10_000 / 64
    assert beta**steps == pytest.approx(0.5)


def test_ramp_up_caps_the_half_life_at_a_share_of_images_seen():
    ema = EMA(kimg=10, rampup=0.05)
    assert ema.half_life(0) == 0  # the first step copies G
    assert ema.half_life(100_000) == 5_000  # 0.05 × 100k < 10k
    assert ema.half_life(1_000_000) == 10_000  # capped by the half-life itself
    assert ema.beta(64, 0) == 0.0
    assert ema.beta(64, 100_000) == pytest.approx(0.5 ** (64 / 5_000))


def test_update_blends_parameters_and_copies_buffers():
    g = nn.BatchNorm1d(3)
    g_ema = make_ema_copy(g)
    assert not any(p.requires_grad for p in g_ema.parameters())
    with torch.no_grad():
        g.weight.fill_(3.0)
        g.running_mean.fill_(7.0)
    ema = EMA(kimg=1, rampup=None)
    ema.update(g_ema, g, batch_size=1000, images_seen=10**6)  # one half-life: beta = 0.5
    torch.testing.assert_close(g_ema.weight, torch.full((3,), 2.0))  # halfway from 1 to 3
    torch.testing.assert_close(g_ema.running_mean, torch.full((3,), 7.0))
