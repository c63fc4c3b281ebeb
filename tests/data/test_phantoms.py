"""The built-in phantom dataset: shapes, determinism, speed-independent anatomy checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cxrgan.data.phantoms import (
    DEFAULT_SPEC,
    PhantomSpec,
    make_phantoms,
    phantom,
    render_phantom,
)

SIZE = 64
N = 64


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    """N phantoms at 64 px as floats in [0, 1]."""
    return make_phantoms(N, SIZE, seed=0).astype(np.float32) / 255.0


def region(img: np.ndarray, x: tuple[float, float], y: tuple[float, float]) -> np.ndarray:
    """Mean over a box given in normalised coordinates (x to the viewer's right, y down)."""
    size = img.shape[-1]

    def px(v: float) -> int:
        return round((v + 1.0) * size / 2)

    return img[..., px(y[0]) : px(y[1]), px(x[0]) : px(x[1])].mean(axis=(-1, -2))


def rib_band_fraction(imgs: np.ndarray) -> np.ndarray:
    """Per image: share of the spectral power of a vertical profile through the viewer's-left
    lung that lies at periods 0.09..0.2 (normalised units), i.e. at the rib spacing."""
    size = imgs.shape[-1]

    def px(v: float) -> int:
        return round((v + 1.0) * size / 2)

    prof = imgs[:, px(-0.6) : px(0.2), px(-0.55) : px(-0.4)].mean(axis=2)
    t = np.arange(prof.shape[1])
    trend = np.stack([np.polyval(np.polyfit(t, p, 2), t) for p in prof])
    power = np.abs(np.fft.rfft((prof - trend) * np.hanning(t.size), axis=1)) ** 2
    period = 2.0 / size / np.maximum(np.fft.rfftfreq(t.size), 1e-9)
    band = (period > 0.09) & (period < 0.2)
    return power[:, band].sum(axis=1) / power[:, 1:].sum(axis=1)


@pytest.mark.parametrize("size", [16, 32, 64, 128, 256])
def test_shape_dtype_range(size: int) -> None:
    img = render_phantom(np.random.default_rng(1), size)
    assert img.shape == (size, size)
    assert img.dtype == np.float32
    assert np.isfinite(img).all()
    assert img.min() >= 0.0 and img.max() <= 1.0
    assert img.std() > 0.1  # not blank
    imgs = make_phantoms(2, size, seed=3)
    assert imgs.shape == (2, size, size)
    assert imgs.dtype == np.uint8


def test_odd_sizes_work() -> None:
    for size in (17, 48, 100):
        assert make_phantoms(1, size, seed=0).shape == (1, size, size)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="seed"):
        make_phantoms(2, 32, seed=-1)
    with pytest.raises(ValueError, match="size"):
        render_phantom(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="n must"):
        make_phantoms(-1, 32, seed=0)
    assert make_phantoms(0, 32, seed=0).shape == (0, 32, 32)


def test_deterministic_by_seed() -> None:
    a = make_phantoms(4, 32, seed=7)
    assert a.tobytes() == make_phantoms(4, 32, seed=7).tobytes()
    assert a.tobytes() != make_phantoms(4, 32, seed=8).tobytes()
    # Images within one set differ too.
    assert not np.array_equal(a[0], a[1])


def test_image_depends_only_on_seed_and_index() -> None:
    ten = make_phantoms(10, 64, seed=5)
    for i in (0, 3, 9):
        assert np.array_equal(ten[i], phantom(5, i, 64))
        alone = render_phantom(np.random.default_rng([5, i]), 64)
        assert np.array_equal(ten[i], (alone * 255.0 + 0.5).astype(np.uint8))
    assert np.array_equal(make_phantoms(3, 64, seed=5), ten[:3])


def test_same_anatomy_at_every_size() -> None:
    """Rendered small, a phantom matches the same phantom rendered large and averaged down:
    the anatomy is resolution independent and small sizes do not alias."""
    big = render_phantom(np.random.default_rng([0, 5]), 128)
    for size in (32, 64):
        k = 128 // size
        down = big.reshape(size, k, size, k).mean(axis=(1, 3))
        small = render_phantom(np.random.default_rng([0, 5]), size)
        assert np.corrcoef(down.ravel(), small.ravel())[0, 1] > 0.97
        assert np.abs(down - small).mean() < 0.05


def test_lungs_darker_than_mediastinum(batch: np.ndarray) -> None:
    mediastinum = region(batch, (-0.06, 0.06), (-0.6, 0.0))
    left_lung = region(batch, (-0.6, -0.3), (-0.5, 0.1))
    right_lung = region(batch, (0.35, 0.65), (-0.6, -0.2))  # above the heart
    assert mediastinum.mean() - left_lung.mean() > 0.3
    assert mediastinum.mean() - right_lung.mean() > 0.3
    # And in every single image, not just on average.
    assert (mediastinum > left_lung).all() and (mediastinum > right_lung).all()


def test_heart_on_viewers_right(batch: np.ndarray) -> None:
    """The heart is on the patient's left, i.e. the viewer's right, lower middle."""
    heart = region(batch, (0.2, 0.4), (0.1, 0.3))
    mirror = region(batch, (-0.4, -0.2), (0.1, 0.3))
    assert heart.mean() - mirror.mean() > 0.25
    assert (heart > mirror).mean() > 0.95


def test_abdomen_brighter_than_lungs(batch: np.ndarray) -> None:
    abdomen = region(batch, (-0.6, 0.6), (0.75, 0.95))
    lungs = region(batch, (-0.6, -0.3), (-0.5, 0.1))
    assert abdomen.mean() - lungs.mean() > 0.3
    assert (abdomen > lungs).all()


def test_ribs_make_periodic_pattern_in_lung(batch: np.ndarray) -> None:
    with_ribs = rib_band_fraction(batch)
    spec = replace(DEFAULT_SPEC, rib_density=(0.0, 0.0), anterior_rib_density=(0.0, 0.0))
    no_ribs = rib_band_fraction(
        np.stack([render_phantom(np.random.default_rng([0, i]), SIZE, spec) for i in range(N)])
    )
    assert with_ribs.mean() > 0.45
    assert with_ribs.mean() > 2.0 * no_ribs.mean()


def test_images_vary(batch: np.ndarray) -> None:
    assert batch.std(axis=0).mean() > 0.07
    # Not just a global brightness change: the anatomy moves and changes shape.
    centred = batch - batch.mean(axis=(1, 2), keepdims=True)
    assert centred.std(axis=0).mean() > 0.05


def test_spec_ranges_are_ordered() -> None:
    spec = PhantomSpec()
    for name, (lo, hi) in vars(spec).items():
        assert lo <= hi, name
