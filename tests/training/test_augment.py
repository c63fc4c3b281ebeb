"""DiffAugment and ADA: every transform keeps the size and the range [-1, 1], is differentiable,
never flips, draws from torch's RNG; ADA's p follows D's overfitting and survives a checkpoint."""

import math

import pytest
import torch
from torch import nn

from cxrgan.augment import AUGMENTS, build_augment
from cxrgan.augment.ada import ADA, ADA_TRANSFORMS
from cxrgan.augment.diffaug import DIFF_POLICIES, DiffAugment
from cxrgan.errors import CxrganError
from cxrgan.losses import LOSSES
from cxrgan.losses.base import StepBatch
from cxrgan.models.base import Discriminator
from cxrgan.training.step import bind_phases, train_step


def fixed(transforms: str, **kwargs) -> ADA:
    """ADA with every transform always on: p = 1, no adaptation."""
    return ADA(target=None, p=1.0, transforms=transforms, **kwargs)


# Each transform alone, both pipelines with everything on, and ADA at an intermediate p.
AUGMENTERS = {
    **{f"diff-{name}": (lambda name=name: DiffAugment(name)) for name in DIFF_POLICIES},
    "diff-all": lambda: DiffAugment(",".join(DIFF_POLICIES)),
    **{f"ada-{name}": (lambda name=name: fixed(name)) for name in ADA_TRANSFORMS},
    "ada-all": lambda: fixed(",".join(ADA_TRANSFORMS)),
    "ada-half": lambda: ADA(target=None, p=0.5, transforms=",".join(ADA_TRANSFORMS)),
}


def test_registered_names_build_the_modules():
    assert {"diff", "ada"} <= set(AUGMENTS)
    assert isinstance(build_augment("diff", policy="translation,cutout"), DiffAugment)
    assert isinstance(build_augment("ada", kimg=10), ADA)
    assert build_augment("none") is None


def test_an_augmentation_must_derive_from_the_base_class(monkeypatch):
    monkeypatch.setitem(AUGMENTS._entries, "plain", "torch.nn:Identity")
    with pytest.raises(CxrganError, match=r"'plain' \(torch.nn:Identity\) must derive from"):
        build_augment("plain")


def test_the_hooks_default_to_nothing_and_adaptation_shows_in_p():
    diff = DiffAugment("translation")
    diff.observe(torch.ones(8))  # the loss calls it on every augmentation
    assert diff.p is None  # not adaptive: the trainer logs no augment_p
    ada = ADA(interval=1, kimg=1)
    assert ada.p == 0.0
    ada.observe(torch.ones(8))  # D calls every real image real: p rises by 8 / 1000
    assert ada.p == pytest.approx(0.008)


BAD_SETTINGS = [
    lambda: DiffAugment("translation,hue"),
    lambda: ADA(transforms="flip"),
    lambda: DiffAugment(""),
    lambda: ADA(target=2.0),
]


@pytest.mark.parametrize("make", BAD_SETTINGS)
def test_unknown_transforms_and_bad_settings_are_one_line_errors(make):
    with pytest.raises(CxrganError):
        make()


def _inputs(size: int) -> torch.Tensor:
    """Random images, and the extremes: all white, all black, a ±1 checkerboard."""
    torch.manual_seed(size)
    rand = torch.rand(13, 1, size, size) * 2 - 1
    checker = (torch.arange(size).view(-1, 1) + torch.arange(size)) % 2 * 2.0 - 1
    extremes = torch.stack([torch.ones(size, size), -torch.ones(size, size), checker])[:, None]
    return torch.cat([rand, extremes])


@pytest.mark.parametrize("name", AUGMENTERS)
@pytest.mark.parametrize("size", [16, 33])
def test_every_transform_keeps_size_and_range(name, size):
    x = _inputs(size)
    aug = AUGMENTERS[name]()
    for _ in range(5):
        out = aug(x)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert torch.isfinite(out).all()
        assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("name", AUGMENTERS)
def test_every_transform_is_differentiable_in_its_input(name):
    torch.manual_seed(0)
    x = (torch.rand(8, 1, 16, 16) - 0.5).requires_grad_(True)  # away from the clamps
    out = AUGMENTERS[name]()(x)
    assert out.requires_grad
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", AUGMENTERS)
def test_no_transform_ever_flips_left_and_right(name):
    """A bright vertical bar a quarter of the way in from the left never shows in the right
    half: translation moves it by at most 1/8, cutout hides at most half of it, the small
    rotation and zoom keep it left (or, translated and zoomed in, push it out of the image).
    A mirrored image would show it on the right."""
    size, n = 32, 256
    x = torch.full((n, 1, size, size), -1.0)
    x[..., size // 4] = 1.0
    aug = AUGMENTERS[name]()
    torch.manual_seed(1)
    for _ in range(4):
        brightest = aug(x).amax(dim=(1, 2))  # (N, W): each column's brightest pixel
        assert (brightest.argmax(dim=1) < size // 2).all()
        left, right = brightest[:, : size // 2], brightest[:, size // 2 :]
        assert (left.amax(1) >= right.amax(1)).all()
        assert (left.amax(1) > right.amax(1)).float().mean() > 0.9  # mostly still visible


def _shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    out = torch.full_like(x, -1.0)
    h, w = x.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_translation_is_a_whole_pixel_shift_within_the_ratio_filled_with_black():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16) * 2 - 1
    out = DiffAugment("translation", translation_ratio=0.125)(x)
    seen = set()
    for img, res in zip(x, out, strict=True):
        shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                  if torch.equal(_shifted(img, dy, dx), res)]  # fmt: skip
        assert len(shifts) == 1, shifts  # exactly one shift of at most 2 = 0.125 × 16 pixels
        seen.add(shifts[0])
    assert len(seen) > 10  # each image draws its own shift


def test_cutout_blanks_one_square_of_the_ratio_and_leaves_the_rest():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16) * 0.5  # in [0, 0.5]: never equal to the fill
    out = DiffAugment("cutout", cutout_ratio=0.5, fill=-1.0)(x)
    cut = out == -1
    assert torch.equal(out[~cut], x[~cut])
    for mask in cut[:, 0]:
        rows, cols = mask.any(1).nonzero().view(-1), mask.any(0).nonzero().view(-1)
        assert mask.sum() == len(rows) * len(cols)  # one rectangle
        assert 1 <= len(rows) <= 8 and 1 <= len(cols) <= 8  # an 8-pixel square, maybe clipped
    whole = cut.sum(dim=(1, 2, 3)) == 64
    assert whole.float().mean() > 0.15  # often whole: 9 of the 17 centres per axis


@pytest.mark.parametrize("name", ["diff-brightness", "diff-contrast", "ada-brightness",
                                  "ada-contrast"])  # fmt: skip
def test_intensity_transforms_keep_the_order_of_the_pixels(name):
    """Brightness and contrast are increasing maps of each image's pixels: nothing moves."""
    torch.manual_seed(0)
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    out = AUGMENTERS[name]()(x).flatten(1)
    order = x.flatten(1).argsort(dim=1)
    assert (out.gather(1, order).diff(dim=1) >= 0).all()
    assert not torch.equal(out, x.flatten(1))


def test_ada_at_p_zero_is_exactly_the_identity():
    torch.manual_seed(0)
    x = (torch.rand(16, 1, 16, 16) * 2 - 1).requires_grad_(True)
    ada = ADA(transforms=",".join(ADA_TRANSFORMS))
    assert ada.p == 0
    out = ada(x)
    assert torch.equal(out, x)
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_ada_applies_each_transform_to_about_p_of_the_images():
    torch.manual_seed(0)
    x = torch.rand(2000, 1, 8, 8) * 2 - 1
    changed = (ADA(target=None, p=0.3, transforms="brightness")(x) != x).flatten(1).any(1)
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.04)


@pytest.mark.parametrize("name", ["diff-all", "ada-half"])
def test_draws_come_from_torchs_global_rng(name):
    x = torch.rand(16, 1, 16, 16) * 2 - 1
    aug = AUGMENTERS[name]()
    torch.manual_seed(7)
    a = aug(x)
    torch.manual_seed(7)
    b = aug(x)
    torch.manual_seed(8)
    c = aug(x)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_ada_draws_the_same_random_numbers_whatever_p():
    """The random stream does not depend on p, so a change of p alone cannot shift later draws."""
    x = torch.rand(8, 1, 16, 16)
    for p in (0.0, 0.5, 1.0):
        torch.manual_seed(3)
        ADA(target=None, p=p, transforms=",".join(ADA_TRANSFORMS))(x)
        after = torch.rand(3)
        if p == 0.0:
            reference = after
        assert torch.equal(after, reference)


# --- ADA's adaptation --------------------------------------------------------------------------
def test_observe_raises_p_by_the_images_seen_once_per_interval():
    ada = ADA(target=0.6, interval=4, kimg=2)
    for _ in range(3):
        ada.observe(torch.full((32,), 5.0))
        assert ada.p == 0  # not before the interval is complete
    ada.observe(torch.full((32,), 5.0))
    assert ada.p == pytest.approx(4 * 32 / 2000)  # sign(1 − 0.6) · 128 images / 2 kimg
    assert ada.rt == 1.0
    for _ in range(4):
        ada.observe(torch.full((32,), 0.1))
    assert ada.p == pytest.approx(2 * 4 * 32 / 2000)
    assert ada.count.item() == 0 and ada.sign_sum.item() == 0  # reset for the next interval


def test_observe_lowers_p_when_d_is_unsure_and_clamps_at_zero_and_at_max_p():
    ada = ADA(target=0.6, interval=2, kimg=1, p=0.1)
    ada.observe(torch.tensor([-1.0, 2.0, -3.0, 4.0]))  # r_t = 0
    ada.observe(torch.tensor([1.0, 2.0, -3.0, 4.0]))  # over the interval: r_t = 2/8
    assert ada.rt == pytest.approx(0.25)
    assert ada.p == pytest.approx(0.1 - 8 / 1000)
    for _ in range(40):
        ada.observe(-torch.ones(100))
    assert ada.p == 0
    for _ in range(100):
        ada.observe(torch.ones(100))
    assert ada.p == pytest.approx(ada.max_p) and ada.p < 1


def test_a_fixed_p_does_not_adapt():
    ada = ADA(target=None, p=0.25)
    for _ in range(8):
        ada.observe(torch.ones(64))
    assert ada.p == 0.25
    # nothing of the real images is kept (the form DP training uses: docs/privacy.md)
    assert float(ada.sign_sum) == float(ada.count) == int(ada.observations) == 0


def test_p_and_the_running_sums_survive_a_checkpoint():
    a = ADA(interval=4, kimg=1)
    for _ in range(6):  # one adjustment, and half of the next interval
        a.observe(torch.ones(10))
    state = {k: v.clone() for k, v in a.state_dict().items()}
    assert set(state) == {"prob", "sign_sum", "count", "observations", "last_rt"}
    b = ADA(interval=4, kimg=1)
    b.load_state_dict(state)
    for ada in (a, b):
        for _ in range(2):
            ada.observe(torch.ones(10))
    assert a.p == b.p == pytest.approx(80 / 1000)


def test_observe_sums_over_ranks_under_torch_distributed(tmp_path):
    dist = torch.distributed
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)  # fmt: skip
    try:
        ada = ADA(interval=1, kimg=1)
        ada.observe(torch.ones(10))
        assert ada.p == pytest.approx(10 / 1000)
    finally:
        dist.destroy_process_group()


# --- ADA's dynamics inside the real loss -------------------------------------------------------
SIZE = 8


class NoiseG(nn.Module):
    """A fixed G: its images are tanh of Gaussian noise, the distribution the reals come from."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))  # trained with lr 0: G does not move

    def forward(self, z, c=None):
        return torch.tanh(z * self.scale).view(len(z), 1, SIZE, SIZE)


class MLPD(Discriminator):
    def __init__(self, width: int = 128):
        super().__init__(0, SIZE, 1)
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(SIZE * SIZE, width), nn.LeakyReLU(0.2), nn.Linear(width, 1)
        )

    def logits(self, x, c=None):
        return self.net(x).view(-1)


@pytest.fixture
def one_thread():
    # The dynamics tests are hundreds of tiny steps: one thread avoids oversubscribing the CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train_d_with_ada(n_images: int, steps: int = 240, batch: int = 32) -> list[float]:
    """D (an MLP) against a fixed G whose images come from the same distribution as the
    `n_images` real ones, with the bce loss and ADA in its run_D; p after every step."""
    torch.manual_seed(0)
    g, d = NoiseG(), MLPD()
    images = torch.tanh(torch.randn(n_images, 1, SIZE, SIZE))
    ada = ADA(target=0.6, interval=4, kimg=5)  # p moves by 0.0256 every 4 steps of 32 images
    loss = LOSSES.load("bce")(g, d, augment=ada)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.99))
    phases = bind_phases(loss, {"G": (g, torch.optim.SGD(g.parameters(), lr=0.0)), "D": (d, opt_d)})
    ps = []
    for step in range(steps):
        real = images[torch.randint(0, n_images, (batch,))]
        train_step(loss, phases, StepBatch(real, None, torch.randn(batch, SIZE * SIZE), None), step)
        ps.append(ada.p)
    return ps


def test_ada_p_rises_when_d_memorises_a_small_set(one_thread):
    """32 images: D learns them by heart, calls them real with confidence (r_t → 1), and p rises
    until the augmentation makes them hard enough to hold r_t near the target."""
    ps = _train_d_with_ada(32)
    assert ps[-1] > 0.2, ps[::20]  # measured: 0.256 after 40 steps, 0.358 after 240
    assert max(ps) < 0.6


def test_ada_p_stays_near_zero_when_d_cannot_overfit(one_thread):
    """16384 images, each seen about once in 240 steps of 32: D cannot tell them from the fakes
    (r_t ≈ 0 < 0.6), so the augmentation stays off."""
    ps = _train_d_with_ada(16384)
    assert max(ps) < 0.05, ps[::20]  # measured: 0 throughout


def test_ada_in_the_loss_sees_real_logits_only_once_per_step():
    d = MLPD()
    ada = ADA(interval=1000)
    loss = LOSSES.load("hinge")(NoiseG(), d, augment=ada, r1_gamma=1.0, r1_interval=1)
    opts = {"G": (loss.G, torch.optim.SGD(loss.G.parameters(), lr=0.0)),
            "D": (d, torch.optim.SGD(d.parameters(), lr=0.0))}  # fmt: skip
    phases = bind_phases(loss, opts)
    for step in range(3):
        batch = StepBatch(torch.zeros(5, 1, SIZE, SIZE), None, torch.randn(5, SIZE * SIZE), None)
        train_step(loss, phases, batch, step)
    assert ada.observations.item() == 3 and ada.count.item() == 15  # Dmain only, not Dreg/Gmain
    assert math.isfinite(ada.p)
