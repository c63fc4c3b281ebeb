"""Procedurally generated chest-radiograph phantoms: cxrgan's built-in, download-free dataset.

THIS IS SYNTHETIC DEMO DATA, NOT REAL RADIOGRAPHS. The images are cartoons of a frontal (PA)
chest film drawn from a handful of ellipses, arcs and noise fields. They exist so that the
toolkit can be tried, tested and demonstrated with no download; they carry no clinical
information and nothing learned from them says anything about real patients.

What is drawn (radiograph convention: bright = dense, dark = air), in the viewer's frame:
two dark lung fields; the heart shadow on the patient's LEFT, i.e. the viewer's RIGHT; the
mediastinum, trachea and aortic knob; the spine with vertebrae; posterior and fainter
anterior ribs; clavicles; diaphragm domes (patient's right one higher) over a bright abdomen,
with a gastric air bubble under the left dome in some images; soft tissue that thins towards
the body edge; quantum noise and low-frequency mottle. Every quantity is randomised per image
within the ranges of `PhantomSpec` in phantom_spec.py (the one place to read or tune them);
phantom_anatomy.py draws the parts.

Images are computed directly at the requested size in continuous normalised coordinates
(x, y in [-1, 1], x to the viewer's right, y downwards), so the anatomy is the same at every
size; edges are ramps one pixel wide and the periodic patterns (ribs, vertebrae) are low-passed
at the pixel scale, so small sizes do not alias.

Image ``i`` of ``make_phantoms(n, size, seed)`` depends only on ``(seed, i)``, so any subset or
prefix is reproducible and generation can be lazy or parallel.
"""

from __future__ import annotations

import numpy as np

from cxrgan.data.phantom_anatomy import chest_density, expose, frame
from cxrgan.data.phantom_spec import DEFAULT_SPEC, PhantomSpec, draw_parameters

__all__ = ["DEFAULT_SPEC", "PhantomSpec", "make_phantoms", "phantom", "render_phantom", "to_uint8"]


def render_phantom(
    rng: np.random.Generator, size: int, spec: PhantomSpec = DEFAULT_SPEC
) -> np.ndarray:
    """One phantom, float32 ``(size, size)`` in [0, 1]; bright = dense. See the module doc."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    p = draw_parameters(rng, spec)
    f = frame(p, size)
    return expose(chest_density(f, p, rng), p, rng)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """[0, 1] floats to uint8 grey levels."""
    return (img * 255.0 + 0.5).astype(np.uint8)


def phantom(seed: int, index: int, size: int, spec: PhantomSpec = DEFAULT_SPEC) -> np.ndarray:
    """Image ``index`` of the phantom set ``seed`` as uint8 ``(size, size)``, for lazy access."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got seed={seed}, index={index}")
    return to_uint8(render_phantom(np.random.default_rng([seed, index]), size, spec))


def make_phantoms(n: int, size: int, seed: int, spec: PhantomSpec = DEFAULT_SPEC) -> np.ndarray:
    """``n`` phantoms as uint8 ``(n, size, size)``; image ``i`` depends only on ``(seed, i)``.

    ``seed`` must be non-negative (numpy seeds ``default_rng([seed, i])``).
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    out = np.empty((n, size, size), dtype=np.uint8)
    for i in range(n):
        out[i] = phantom(seed, i, size, spec)
    return out
