import pytest
import torch

from cxrgan.errors import CxrganError
from cxrgan.losses import LOSSES
from cxrgan.losses.base import StepBatch
from cxrgan.models import MODELS, ModelSpec, architecture, build_models
from cxrgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from cxrgan.training.checkpoint import Checkpoint, load_checkpoint, model_tensors, save_checkpoint
from cxrgan.training.step import bind_phases, train_step


def _spec(name="dcgan", size=32, **kwargs):
    kwargs = kwargs or {"ngf": 4, "ndf": 4}
    return ModelSpec(name, z_dim=16, resolution=size, kwargs=kwargs)


# Every registered architecture, at every size it says it supports.
REGISTRY = [(name, size) for name in MODELS for size in architecture(name).resolutions]


@pytest.mark.parametrize(("name", "size"), REGISTRY)
def test_every_registered_model_builds_trains_and_round_trips(name, size, tmp_path):
    torch.manual_seed(0)
    spec = ModelSpec(name, z_dim=16, resolution=size, kwargs={"ngf": 4, "ndf": 4})
    g, d = build_models(spec)
    z = g.sample_latents(3)
    assert z.shape == (3, 16)
    fake = g(z)
    assert fake.shape == (3, 1, size, size)
    assert fake.min() >= -1 and fake.max() <= 1
    logits, aux = d(fake, with_aux=True)  # aux: a self-supervised D's own loss, or None
    assert logits.shape == (3,)
    torch.testing.assert_close(d(fake), logits)  # forward() gives the same logits
    (logits.mean() + (0 if aux is None else aux)).backward()
    assert all(p.grad is not None for p in g.parameters())
    assert all(p.grad is not None for p in d.parameters())

    path = tmp_path / "ckpt.safetensors"
    tensors = {**model_tensors("G", g), **model_tensors("D", d)}
    save_checkpoint(path, Checkpoint(tensors, {"model_spec": spec.to_dict()}))
    loaded = load_checkpoint(path)
    assert loaded.model_spec() == spec
    g2, d2 = build_models(loaded.model_spec())
    loaded.load_model("G", g2)
    loaded.load_model("D", d2)
    g.eval(), g2.eval(), d.eval(), d2.eval()
    with torch.no_grad():
        torch.testing.assert_close(g2(z), g(z), rtol=0, atol=0)
        torch.testing.assert_close(d2(fake), d(fake), rtol=0, atol=0)


# Parameter counts (G, D) at the default widths (ngf = ndf = 64, z = 100): they pin every
# architecture at every size it supports, so a change to one shows up here.
PARAMETERS = {
    ("dcgan", 32): (1_066_880, 661_248),
    ("dcgan", 64): (3_574_656, 2_763_520),
    ("dcgan", 128): (7_769_984, 6_958_848),
    ("dcgan", 256): (11_965_312, 11_154_176),
    ("lightweight", 64): (1_769_808, 427_904),
    ("lightweight", 128): (1_708_176, 437_024),
    ("lightweight", 256): (1_729_488, 444_960),
    ("lightweight", 512): (1_742_608, 451_712),
}


def test_parameter_counts_of_every_architecture_at_every_size():
    assert set(PARAMETERS) == set(REGISTRY)  # a new entry or size needs its counts here
    for (name, size), counts in PARAMETERS.items():
        g, d = build_models(ModelSpec(name, 100, size, kwargs={"ngf": 64, "ndf": 64}))
        got = (sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters()))
        assert got == counts, (name, size)


def test_64px_matches_tutorial_layer_for_layer():
    # The tutorial's netG/netD with nc=3 have 3,576,704 / 2,765,568 parameters; nc=1 removes
    # 2 × 64 × 16 from each of G's last and D's first conv.
    g, d = DCGANGenerator(100, 64, 1, 64), DCGANDiscriminator(64, 1, 64)
    assert sum(p.numel() for p in g.parameters()) == 3_576_704 - 2 * 64 * 16
    assert sum(p.numel() for p in d.parameters()) == 2_765_568 - 2 * 64 * 16
    convs = [m for m in g.main if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 1]
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in d.modules())  # D returns logits


def test_init_follows_tutorial():
    torch.manual_seed(0)
    g, _ = build_models(ModelSpec("dcgan", 100, 64, kwargs={"ngf": 64, "ndf": 64}))
    conv, bn = g.main[0], g.main[1]
    assert abs(conv.weight.std().item() - 0.02) < 0.002
    assert abs(bn.weight.mean().item() - 1.0) < 0.01
    assert bn.bias.abs().max().item() == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_spec("nope"), "unknown model 'nope'"),
        (_spec(size=48), "supports 32, 64, 128, 256 px, not 48"),
        (_spec(width=3), "unexpected keyword argument 'width'"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(CxrganError, match=message):
        build_models(spec)


def test_an_unconditional_architecture_refuses_classes():
    """Built-in architectures are all conditional; one that is not says so before building."""
    from cxrgan.models.base import Architecture
    from cxrgan.models.dcgan import build_dcgan

    plain = Architecture(build_dcgan, resolutions=(32,))
    with pytest.raises(CxrganError, match="model dcgan is unconditional"):
        plain.build(ModelSpec("dcgan", 16, 32, c_dim=2, classes=("a", "b")))


def test_checkpoint_without_model_spec_is_refused_clearly():
    with pytest.raises(CxrganError, match=r"written by cxrgan 0\.1"):
        Checkpoint({}, {"state": {}}).model_spec()


def test_checkpoint_of_another_size_names_the_mismatch(tmp_path):
    g32, _ = build_models(_spec(size=32))
    g64, _ = build_models(_spec(size=64))
    ckpt = Checkpoint(model_tensors("G", g32), {})
    with pytest.raises(CxrganError) as err:
        ckpt.load_model("G", g64)
    assert str(err.value) == (
        "checkpoint's G does not fit DCGANGenerator: main.0.weight is (16, 16, 4, 4) in the "
        "checkpoint, (16, 32, 4, 4) in the model"
    )


def _step_fixture(size=32):
    torch.manual_seed(0)
    g, d = build_models(_spec(size=size, ngf=8, ndf=8))
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    loss = LOSSES.load("bce")(g, d)
    return g, d, loss, bind_phases(loss, {"G": (g, og), "D": (d, od)})


def test_one_step_changes_both_networks_and_losses_are_finite():
    g, d, loss, phases = _step_fixture()
    g0 = [p.detach().clone() for p in g.parameters()]
    d0 = [p.detach().clone() for p in d.parameters()]
    z = g.sample_latents(8, generator=torch.Generator().manual_seed(1))
    stats = train_step(loss, phases, StepBatch(torch.rand(8, 1, 32, 32) * 2 - 1, None, z, None), 0)
    assert set(stats) == {"loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2"}
    assert all(torch.isfinite(v) for v in stats.values())
    assert all(not torch.equal(a, b) for a, b in zip(g0, g.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d0, d.parameters(), strict=True))
    assert stats["loss_d"] > 0 and stats["loss_g"] > 0
    assert all(0 < stats[k] < 1 for k in ("d_x", "d_g_z1", "d_g_z2"))
    assert all(p.requires_grad for p in d.parameters())  # G's phase froze D only meanwhile


def test_step_matches_tutorial_maths():
    """Same weights after one step as the tutorial's literal loop (Sigmoid + nn.BCELoss).

    (The tutorial also computes D's weight gradients in G's step; we skip them.)
    """
    g, d, loss, phases = _step_fixture()
    g2, d2, _, _ = _step_fixture()
    real = torch.rand(8, 1, 32, 32) * 2 - 1
    z = g.sample_latents(8, generator=torch.Generator().manual_seed(5))
    stats = train_step(loss, phases, StepBatch(real, None, z, None), 0)

    net_d = torch.nn.Sequential(d2, torch.nn.Sigmoid())  # the tutorial's D ends in a Sigmoid
    crit = torch.nn.BCELoss()
    og = torch.optim.Adam(g2.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d2.parameters(), 2e-4, betas=(0.5, 0.999))
    d2.zero_grad()
    out = net_d(real).view(-1)
    err_real = crit(out, torch.ones(8))
    err_real.backward()
    d_x = out.mean().item()
    noise = torch.randn(8, 16, 1, 1, generator=torch.Generator().manual_seed(5))
    fake = g2(noise)
    err_fake = crit(net_d(fake.detach()).view(-1), torch.zeros(8))
    err_fake.backward()
    od.step()
    g2.zero_grad()
    err_g = crit(net_d(fake).view(-1), torch.ones(8))
    err_g.backward()
    og.step()
    for a, b in zip(
        list(g.parameters()) + list(d.parameters()),
        list(g2.parameters()) + list(d2.parameters()),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert stats["loss_d"].item() == pytest.approx((err_real + err_fake).item(), rel=1e-5)
    assert stats["loss_g"].item() == pytest.approx(err_g.item(), rel=1e-5)
    assert stats["d_x"].item() == pytest.approx(d_x, rel=1e-5)
