"""The FastGAN-style `lightweight` architecture: shapes, sizes, the self-supervised D."""

import pytest
import torch
import torch.nn.functional as F

from cxrgan.errors import CxrganError
from cxrgan.losses import LOSSES
from cxrgan.losses.base import StepBatch
from cxrgan.models import ModelSpec, architecture, build_models
from cxrgan.models.lightweight import (
    RESOLUTIONS,
    LightweightDiscriminator,
    build_lightweight,
)
from cxrgan.training.checkpoint import Checkpoint, load_checkpoint, model_tensors, save_checkpoint
from cxrgan.training.step import bind_phases, train_step


def _nets(size, width=8, d_sn=False):
    torch.manual_seed(0)
    spec = ModelSpec("lightweight", 16, size, kwargs={"ngf": width, "ndf": width},
                     d_spectral_norm=d_sn)  # fmt: skip
    return build_models(spec)


def _count(module):
    return sum(p.numel() for p in module.parameters())


def _decoder_params(d):
    return [*d.decoder_whole.parameters(), *d.decoder_part.parameters()]


def test_registered_with_its_sizes_and_conditional():
    arch = architecture("lightweight")
    assert arch.resolutions == RESOLUTIONS == (64, 128, 256, 512)
    assert arch.conditional  # tests/training/test_conditional_training.py builds it so
    with pytest.raises(CxrganError, match="supports 64, 128, 256, 512 px, not 32"):
        build_models(ModelSpec("lightweight", 16, 32))


@pytest.mark.parametrize("size", RESOLUTIONS)
def test_shapes_and_ranges_at_every_size(size):
    g, d = _nets(size, width=4)
    z = g.sample_latents(2)
    fake = g(z, None)
    assert fake.shape == (2, 1, size, size)
    assert fake.min() >= -1 and fake.max() <= 1
    assert d(fake, None).shape == (2,)
    logits, aux = d(fake.detach(), None, with_aux=True)
    assert logits.shape == (2,)
    assert aux.shape == () and torch.isfinite(aux) and aux >= 0


@pytest.mark.parametrize(
    ("size", "g_params", "d_params"),
    [(64, 1_769_808, 427_904), (128, 1_708_176, 437_024), (256, 1_729_488, 444_960)],
)
def test_parameter_counts_with_default_widths(size, g_params, d_params):
    # 64 px, ngf = 64, z = 100. G: init ConvT 100→512 (819,200) + BN (1,024); up-blocks to
    # 8/16/32/64 px, 3×3 conv to 2× the width + BN: 256→256 (590,336), 128→128 (147,712),
    # 64→64 (36,992), 32→32 (9,280); SLE 4→32: 256·32·16 + 32·32 (132,096), SLE 8→64:
    # 128·16·16 + 16·16 (33,024); to_img 16·9 (144).
    # D (ndf = 64): from_img 1→16 (144); DownBlockComp 16→32 (18,112), 32→64 (72,064),
    # 64→128 (287,488); head 128·128 + BN + 128·16 (18,688); decoders 20,904 + 10,504.
    g, d = build_lightweight(100, 0, size, 1)
    assert _count(g) == g_params
    assert _count(d) == d_params


def test_widths_and_skip_layer_excitation_pairs():
    g, d = build_lightweight(100, 0, 64, 1)
    assert [g.ups[str(s)][1].out_channels // 2 for s in (8, 16, 32, 64)] == [128, 64, 32, 16]
    assert g.pairs == ((4, 32), (8, 64))
    assert sorted(g.sles) == ["32", "64"]
    assert build_lightweight(100, 0, 256, 1)[0].pairs == ((4, 64), (8, 128), (16, 256))
    assert (d.whole_size, d.part_size) == (64, 32)
    d256 = build_lightweight(100, 0, 256, 1)[1]
    assert (d256.whole_size, d256.part_size) == (128, 128)


def test_init_is_fastgans():
    torch.manual_seed(0)
    g, d = build_lightweight(100, 0, 64, 1)
    conv, bn = g.init[0], g.init[1]
    assert abs(conv.weight.std().item() - 0.02) < 0.002
    assert abs(bn.weight.mean().item() - 1.0) < 0.01
    assert abs(bn.weight.std().item() - 0.02) < 0.005
    assert bn.bias.abs().max().item() == 0
    assert abs(d.downs["8"].main[0].weight.std().item() - 0.02) < 0.002


def test_logits_skip_the_decoders_and_with_aux_trains_them():
    _, d = _nets(64)
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    d(x).sum().backward()
    decoders = {id(p) for p in _decoder_params(d)}
    assert all(p.grad is None for p in _decoder_params(d))
    assert all(p.grad is not None for p in d.parameters() if id(p) not in decoders)

    d.zero_grad(set_to_none=True)
    logits, aux = d(x, with_aux=True)
    (logits.sum() + aux).backward()
    assert all(p.grad is not None for p in d.parameters())
    assert all(p.grad.abs().sum() > 0 for p in _decoder_params(d))


def test_with_aux_gives_the_same_logits():
    _, d = _nets(128)
    d.eval()  # BatchNorm on running statistics, so both calls see the same normalisation
    x = torch.rand(2, 1, 128, 128) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(d(x, with_aux=True)[0], d(x), rtol=0, atol=0)


def _patch_decoders(d, monkeypatch, whole_out, part_out, seen):
    def whole(feat):
        seen["whole"] = feat
        return whole_out

    def part(feat):
        seen["part"] = feat
        return part_out

    monkeypatch.setattr(d.decoder_whole, "forward", whole)
    monkeypatch.setattr(d.decoder_part, "forward", part)
    monkeypatch.setattr(LightweightDiscriminator, "crop_offset", staticmethod(lambda: (3, 5)))


def test_reconstruction_targets_by_hand(monkeypatch):
    # 256 px: the whole image at 128 px (2×2 means) from the 8 px map; the 8×8-cell window at
    # cell (3, 5) of the 16 px map (16 px per cell) as the 128 px crop at (48, 80).
    _, d = _nets(256, width=4)
    x = torch.rand(2, 1, 256, 256) * 2 - 1
    whole = F.avg_pool2d(x, 2)
    part = x[..., 48:176, 80:208]
    seen = {}
    _patch_decoders(d, monkeypatch, whole, part, seen)
    _, aux = d(x, with_aux=True)
    assert aux.item() == 0

    feat16, feat8 = d._features(x)
    torch.testing.assert_close(seen["whole"], feat8)
    torch.testing.assert_close(seen["part"], feat16[..., 3:11, 5:13])

    zeros_whole, zeros_part = torch.zeros_like(whole), torch.zeros_like(part)
    _patch_decoders(d, monkeypatch, zeros_whole, zeros_part, seen)
    _, aux = d(x, with_aux=True)
    expected = whole.abs().mean() + part.abs().mean()  # mean L1 of each, summed
    assert aux.item() == pytest.approx(expected.item(), rel=1e-6)


def test_part_crop_is_resized_at_512px(monkeypatch):
    _, d = _nets(512, width=4)
    x = torch.rand(1, 1, 512, 512) * 2 - 1
    whole, part = F.avg_pool2d(x, 4), F.avg_pool2d(x[..., 96:352, 160:416], 2)
    _patch_decoders(d, monkeypatch, whole, part, {})
    assert d(x, with_aux=True)[1].item() == 0


def test_crop_position_comes_from_torchs_global_rng():
    torch.manual_seed(7)
    first = [LightweightDiscriminator.crop_offset() for _ in range(20)]
    torch.manual_seed(7)
    assert [LightweightDiscriminator.crop_offset() for _ in range(20)] == first
    assert all(0 <= v <= 8 for pos in first for v in pos)
    assert len(set(first)) > 1
    torch.manual_seed(7)
    assert tuple(torch.randint(0, 9, (2,)).tolist()) == first[0]

    _, d = _nets(64)
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    losses = []
    for _ in range(2):
        torch.manual_seed(11)
        losses.append(d(x, with_aux=True)[1])
    assert torch.equal(losses[0], losses[1])


@pytest.mark.parametrize("d_sn", [False, True])
def test_full_loss_steps_train_both_networks_and_the_decoders(d_sn):
    g, d = _nets(64, d_sn=d_sn)
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    loss = LOSSES.load("bce")(g, d)
    phases = bind_phases(loss, {"G": (g, og), "D": (d, od)})
    g0 = [p.detach().clone() for p in g.parameters()]
    d0 = [p.detach().clone() for p in d.parameters()]
    real = torch.rand(4, 1, 64, 64) * 2 - 1
    for step in range(3):
        batch = StepBatch(real, None, g.sample_latents(4), None)
        stats = train_step(loss, phases, batch, step)
        assert "loss_d_aux" in stats
        assert all(torch.isfinite(v) for v in stats.values())
        assert stats["loss_d_aux"] > 0
    assert all(not torch.equal(a, b) for a, b in zip(g0, g.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d0, d.parameters(), strict=True))
    assert all(p.requires_grad for p in d.parameters())


def test_spectral_norm_is_on_ds_discriminating_path_only():
    _, d = _nets(64, d_sn=True)
    keys = d.state_dict().keys()
    assert "from_img.0.parametrizations.weight.original" in keys
    assert "head.3.parametrizations.weight.original" in keys
    assert "downs.8.main.0.parametrizations.weight.original" in keys
    assert not any("parametrizations" in k for k in keys if k.startswith("decoder"))
    assert not any("parametrizations" in k for k in _nets(64)[1].state_dict())


@pytest.mark.parametrize(("size", "d_sn"), [(s, False) for s in RESOLUTIONS] + [(64, True)])
def test_every_parameter_trains_and_checkpoints_round_trip(size, d_sn, tmp_path):
    # The registry test's checks, with D's auxiliary loss, so the decoders get gradients too.
    torch.manual_seed(0)
    spec = ModelSpec("lightweight", 16, size, kwargs={"ngf": 4, "ndf": 4}, d_spectral_norm=d_sn)
    g, d = build_models(spec)
    z = g.sample_latents(2)
    fake = g(z)
    logits, aux = d(fake, with_aux=True)
    (logits.mean() + aux).backward()
    assert all(p.grad is not None for p in g.parameters())
    assert all(p.grad is not None for p in d.parameters())

    path = tmp_path / "ckpt.safetensors"
    tensors = {**model_tensors("G", g), **model_tensors("D", d)}
    save_checkpoint(path, Checkpoint(tensors, {"model_spec": spec.to_dict()}))
    loaded = load_checkpoint(path)
    g2, d2 = build_models(loaded.model_spec())
    loaded.load_model("G", g2)
    loaded.load_model("D", d2)
    for net in (g, g2, d, d2):
        net.eval()
    with torch.no_grad():
        torch.testing.assert_close(g2(z), g(z), rtol=0, atol=0)
        torch.testing.assert_close(d2(fake), d(fake), rtol=0, atol=0)
