import pytest
import torch

from cxrgan.models import build_models
from cxrgan.models.dcgan import Discriminator, Generator
from cxrgan.training.step import GanStep


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_output_shapes_per_image_size(size):
    g, d = build_models("dcgan", size, nz=16, ngf=4, ndf=4)
    fake = g(torch.randn(3, 16, 1, 1))
    assert fake.shape == (3, 1, size, size)
    assert fake.min() >= -1 and fake.max() <= 1  # Tanh
    out = d(fake)
    assert out.shape == (3, 1, 1, 1)
    assert ((out > 0) & (out < 1)).all()  # Sigmoid


def test_64px_matches_tutorial_layer_for_layer():
    # The tutorial's netG/netD with nc=3 have 3,576,704 / 2,765,568 parameters; nc=1 removes
    # 2 × 64 × 16 from each of G's last and D's first conv.
    g, d = Generator(64, 100, 64), Discriminator(64, 64)
    assert sum(p.numel() for p in g.parameters()) == 3_576_704 - 2 * 64 * 16
    assert sum(p.numel() for p in d.parameters()) == 2_765_568 - 2 * 64 * 16
    convs = [m for m in g.main if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 1]


def test_init_follows_tutorial():
    torch.manual_seed(0)
    g, _ = build_models("dcgan", 64, 100, 64, 64)
    conv, bn = g.main[0], g.main[1]
    assert abs(conv.weight.std().item() - 0.02) < 0.002
    assert abs(bn.weight.mean().item() - 1.0) < 0.01
    assert bn.bias.abs().max().item() == 0


def _step_fixture(size=32):
    torch.manual_seed(0)
    g, d = build_models("dcgan", size, 16, 8, 8)
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    return g, d, GanStep(g, d, og, od, nz=16)


def test_one_step_changes_both_networks_and_losses_are_finite():
    g, d, step = _step_fixture()
    g0 = [p.detach().clone() for p in g.parameters()]
    d0 = [p.detach().clone() for p in d.parameters()]
    stats = step(torch.rand(8, 1, 32, 32) * 2 - 1, torch.Generator().manual_seed(1))
    assert torch.isfinite(stats).all()
    assert all(not torch.equal(a, b) for a, b in zip(g0, g.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d0, d.parameters(), strict=True))
    loss_d, loss_g, d_x, d_g_z1, d_g_z2 = stats.tolist()
    assert loss_d > 0 and loss_g > 0 and 0 < d_x < 1 and 0 < d_g_z1 < 1 and 0 < d_g_z2 < 1


def test_step_matches_tutorial_maths():
    """Same weights after one step as the tutorial's literal loop.

    (The tutorial also computes D's weight gradients in G's step; we skip them.)
    """
    g, d, step = _step_fixture()
    g2, d2, _ = _step_fixture()
    real = torch.rand(8, 1, 32, 32) * 2 - 1
    step(real, torch.Generator().manual_seed(5))

    crit = torch.nn.BCELoss()
    og = torch.optim.Adam(g2.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d2.parameters(), 2e-4, betas=(0.5, 0.999))
    d2.zero_grad()
    err_real = crit(d2(real).view(-1), torch.ones(8))
    err_real.backward()
    noise = torch.randn(8, 16, 1, 1, generator=torch.Generator().manual_seed(5))
    fake = g2(noise)
    crit(d2(fake.detach()).view(-1), torch.zeros(8)).backward()
    od.step()
    g2.zero_grad()
    crit(d2(fake).view(-1), torch.ones(8)).backward()
    og.step()
    for a, b in zip(
        list(g.parameters()) + list(d.parameters()),
        list(g2.parameters()) + list(d2.parameters()),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
