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
within the ranges of `PhantomSpec` below (the one place to read or tune them).

Images are computed directly at the requested size in continuous normalised coordinates
(x, y in [-1, 1], x to the viewer's right, y downwards), so the anatomy is the same at every
size; edges are ramps one pixel wide and the periodic patterns (ribs, vertebrae) are low-passed
at the pixel scale, so small sizes do not alias.

Image ``i`` of ``make_phantoms(n, size, seed)`` depends only on ``(seed, i)``, so any subset or
prefix is reproducible and generation can be lazy or parallel.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

Range = tuple[float, float]


@dataclass(frozen=True)
class PhantomSpec:
    """Uniform ranges ``(lo, hi)`` from which each image draws its parameters.

    Units are normalised image coordinates before framing (x, y in [-1, 1]; ``a`` below is the
    lateral distance from the midline). Densities are relative attenuations; the tone curve
    turns their sum into brightness.
    """

    # Framing: patient positioning and field of view.
    scale: Range = (0.93, 1.08)  # > 1 zooms in
    shift_x: Range = (-0.05, 0.05)
    shift_y: Range = (-0.05, 0.05)
    rotation_deg: Range = (-4.0, 4.0)
    # Body outline and soft tissue.
    body_half_width: Range = (1.02, 1.22)
    shoulder_y: Range = (-1.05, -0.85)  # above this the body narrows to the neck
    soft_tissue: Range = (0.55, 0.7)  # density at full body thickness
    abdomen_extra: Range = (0.12, 0.25)  # extra density below the diaphragm
    shoulder_extra: Range = (0.08, 0.18)  # extra density over the upper chest
    # Lungs (each an ellipse cut by the mediastinum and a diaphragm dome).
    lung_apex_y: Range = (-0.86, -0.72)
    lung_center_a: Range = (0.4, 0.47)  # lateral position of the apex / ellipse centre
    lung_half_width: Range = (0.38, 0.45)
    lung_medial_a: Range = (0.12, 0.17)  # mediastinal border
    lung_air: Range = (0.4, 0.5)  # density removed where the lung is full depth
    lung_edge: Range = (0.03, 0.07)  # how far in from the border the lung reaches full depth
    lung_asym: Range = (-0.03, 0.03)  # patient-left lung wider (+) or narrower (-)
    # Diaphragm domes.
    dome_y: Range = (0.36, 0.5)  # top of the patient's right (viewer's left) dome
    dome_left_lower: Range = (0.02, 0.08)  # how much lower the patient's left dome is
    sulcus_depth: Range = (0.14, 0.24)  # costophrenic angle below the dome top
    # Heart (hangs from the mediastinum, apex to the viewer's right, sits on the diaphragm).
    heart_top: Range = (-0.3, -0.12)  # where it leaves the mediastinum
    heart_width: Range = (0.42, 0.56)  # reach of the apex to the viewer's right
    heart_peak: Range = (0.65, 0.85)  # fraction of its height at which it is widest
    heart_right_bulge: Range = (0.03, 0.1)  # right atrium, past the viewer's-left mediastinum
    heart_density: Range = (0.12, 0.22)
    aortic_knob: Range = (0.1, 0.25)  # density of the knob at the top left of the heart
    # Trachea and stomach air.
    trachea_air: Range = (0.12, 0.22)
    gastric_bubble: Range = (-0.15, 0.25)  # density removed; <= 0 means no bubble
    # Bones.
    spine_half_width: Range = (0.08, 0.1)
    spine_density: Range = (0.12, 0.2)
    rib_spacing: Range = (0.12, 0.15)  # vertical distance between posterior ribs
    rib_spacing_growth: Range = (0.1, 0.35)  # relative widening of the spacing to the base
    rib_phase: Range = (0.0, 1.0)
    rib_width: Range = (0.4, 0.55)  # fraction of the spacing that is bone
    rib_arc: Range = (0.7, 1.05)  # downward curvature of the posterior ribs
    rib_rise: Range = (0.1, 0.3)  # initial rise of the posterior ribs next to the spine
    rib_density: Range = (0.07, 0.13)
    anterior_rib_density: Range = (0.03, 0.07)
    anterior_rib_slope: Range = (0.45, 0.75)
    clavicle_y: Range = (-0.78, -0.66)  # at the medial end
    clavicle_rise: Range = (0.2, 0.4)  # how much higher the lateral end is
    clavicle_density: Range = (0.15, 0.25)
    # Lung markings and mottle.
    vessel_density: Range = (0.06, 0.12)
    hilum_density: Range = (0.1, 0.18)
    mottle: Range = (0.02, 0.05)
    # Exposure and contrast.
    mu: Range = (1.1, 1.7)  # attenuation per unit density in the tone curve
    black: Range = (0.0, 0.12)  # window low end, as a fraction of the tone-curve range
    white: Range = (0.85, 1.0)
    midtones: Range = (-0.25, 0.35)  # > 0 brightens the mid-greys (like a gamma below 1)
    noise: Range = (0.005, 0.02)  # per-pixel quantum noise (std)


DEFAULT_SPEC = PhantomSpec()

_MOTTLE_GRID = 6  # cells across the image for the low-frequency mottle
_BREAK_GRID = 8  # cells across the image for the noise that breaks vessels into segments
# Vessel fan: a random value every 1/12 of the direction sine around each hilum; with that
# spacing a sharpness of 4 makes vessels about 0.04 wide (half-width = spacing / sharpness).
_FAN_KNOTS = 25
_FAN_RES = 512  # entries per side in the looked-up fan table
_FAN_FINE = np.linspace(-1.0, 1.0, _FAN_RES)
_FAN_COARSE = np.linspace(-1.0, 1.0, _FAN_KNOTS)
_VESSEL_SHARPNESS = 4.0


@lru_cache(maxsize=8)
def _bounds(spec: PhantomSpec) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    names = tuple(f.name for f in dataclasses.fields(spec))
    lo = np.array([getattr(spec, n)[0] for n in names], dtype=np.float64)
    hi = np.array([getattr(spec, n)[1] for n in names], dtype=np.float64)
    return names, lo, hi


def _draw(rng: np.random.Generator, spec: PhantomSpec) -> dict[str, float]:
    """One uniform draw per spec field, in field order (so images are reproducible)."""
    names, lo, hi = _bounds(spec)
    # Python floats: numpy float64 scalars would promote the float32 grids.
    return dict(zip(names, rng.uniform(lo, hi).tolist(), strict=True))


@lru_cache(maxsize=16)
def _pixel_centres(size: int) -> np.ndarray:
    return ((np.arange(size) + 0.5) * (2.0 / size) - 1.0).astype(np.float32)


@lru_cache(maxsize=32)
def _upsampler(size: int, grid: int) -> np.ndarray:
    """(size, grid) Gaussian interpolation matrix: smooth noise without grid artefacts."""
    pos = (np.arange(size) + 0.5) / size * grid - 0.5
    w = np.exp(-0.5 * ((pos[:, None] - np.arange(grid)[None, :]) / 0.8) ** 2)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, size: int, grid: int) -> np.ndarray:
    """Band-limited noise, roughly unit variance, with features about 2/grid wide."""
    m = _upsampler(size, grid)
    g = rng.standard_normal((grid, grid), dtype=np.float32) * 2.2
    return m @ g @ m.T


def _ramp(d: np.ndarray, width: float) -> np.ndarray:
    """0 -> 1 as the signed distance ``d`` crosses 0 over ``width`` (a box-filtered edge)."""
    y = d * (1.0 / width) + 0.5
    return np.clip(y, 0.0, 1.0, out=y)  # in place: this runs a dozen times per image


def _periodic_band(t: np.ndarray, duty: float, cycles_per_px: np.ndarray | float) -> np.ndarray:
    """Bands of fractional width ``duty`` with period 1 in ``t``, low-passed at the pixel scale.

    Three Fourier terms of a pulse train, each faded out between 0.25 and 0.45 cycles per
    pixel, so rib and vertebra patterns blur into their mean instead of aliasing at small sizes.
    """
    out = np.full(np.shape(t), duty, dtype=np.float32)
    lowest, highest = float(np.min(cycles_per_px)), float(np.max(cycles_per_px))
    ck = c1 = np.cos((2.0 * math.pi) * t)
    prev = np.float32(1.0)  # cos 0x; higher harmonics by Chebyshev recurrence, one cos call
    for k in (1, 2, 3):
        if k * lowest >= 0.45:  # this harmonic and the higher ones are gone everywhere
            break
        if k > 1:
            ck, prev = 2.0 * c1 * ck - prev, ck
        coef = 2.0 * math.sin(math.pi * k * duty) / (math.pi * k)
        if k * highest <= 0.25:  # kept in full everywhere
            out += coef * ck
        else:
            out += coef * np.clip((0.45 - k * cycles_per_px) * 5.0, 0.0, 1.0) * ck
    return out


def _thin_band(dist: np.ndarray, half: float, px: float) -> np.ndarray:
    """Cross-section of a cylinder of radius ``half`` at distance ``dist`` from its axis.

    Thinner than a pixel, it is widened and dimmed so its integral (what a detector pixel
    would see) is kept instead of flickering on and off.
    """
    eff = max(half, 0.75 * px)
    return np.sqrt(np.clip(1.0 - np.square(dist * (1.0 / eff)), 0.0, 1.0)) * (half / eff)


@dataclass(frozen=True)
class _Frame:
    """Anatomy coordinates of every pixel centre, after positioning the patient."""

    X: np.ndarray  # to the viewer's right
    Y: np.ndarray  # downwards
    a: np.ndarray  # lateral distance from the midline, |X|
    side: np.ndarray  # -1: viewer's left (patient's right), +1: viewer's right
    px: float  # one pixel in anatomy units


def _frame(p: dict[str, float], size: int) -> _Frame:
    c = _pixel_centres(size)
    th = math.radians(p["rotation_deg"])
    inv = 1.0 / p["scale"]
    cos_t, sin_t = math.cos(th) * inv, math.sin(th) * inv
    cx = c - p["shift_x"]
    cy = c - p["shift_y"]
    X = (cos_t * cx)[None, :] + (sin_t * cy)[:, None]
    Y = (cos_t * cy)[:, None] - (sin_t * cx)[None, :]
    return _Frame(X, Y, np.abs(X), np.sign(X), 2.0 / size * inv)


def _diaphragm(f: _Frame, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dome height per column, the dome curve, and the soft mask of what lies above it."""
    dome_top = p["dome_y"] + p["dome_left_lower"] * 0.5 * (f.side + 1.0)
    # A parabola per side, peaking over the middle of the lung; it falls more gently medially
    # than into the lateral costophrenic sulcus.
    da = (f.a - p["lung_center_a"]) * (1.0 / p["lung_half_width"])
    dome = dome_top + p["sulcus_depth"] * (0.7 * da * da + 0.3 * da * np.abs(da))
    return dome_top, dome, _ramp(dome - f.Y, f.px)


def _soft_tissue(f: _Frame, p: dict[str, float], above: np.ndarray) -> np.ndarray:
    """Chest wall, shoulders and abdomen: a cylinder whose thickness falls off to the sides."""
    neck = np.clip((p["shoulder_y"] - f.Y) * (1.0 / 0.2), 0.0, 1.0)
    half_w = p["body_half_width"] - 0.5 * neck
    body = np.sqrt(np.clip(1.0 - np.square(f.X / half_w), 0.0, 1.0))
    # Shoulder girdle muscles overlap the apices, so the upper lung zones are less dark.
    shoulders = _ramp(-0.45 - f.Y, 0.4)
    extra = p["abdomen_extra"] * (1.0 - above) + p["shoulder_extra"] * shoulders
    return body * (p["soft_tissue"] + extra)


def _lung_fields(
    f: _Frame, p: dict[str, float], dome_top: np.ndarray, above: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lung depth in [0, 1] (an ellipse cut by mediastinum and dome), and the rib-cage mask."""
    r = p["lung_half_width"] + p["lung_asym"] * 0.5 * (f.side + 1.0)
    ry = dome_top + 0.5 * p["sulcus_depth"] - p["lung_apex_y"]
    # Above its centre the ellipse rounds off into the apex; below it the sides stay vertical
    # and the dome cuts the lung.
    ey = np.minimum(f.Y - (p["lung_apex_y"] + ry), 0.0)
    lat = np.square((f.a - p["lung_center_a"]) / r)
    q = lat + np.square(ey / ry)
    # Depth ramps up over lung_edge inside the ellipse; the mediastinal and diaphragmatic
    # borders are sharper, as on real films.
    depth = np.clip((1.0 - q) * (0.5 * r / p["lung_edge"]), 0.0, 1.0)
    lung = depth * _ramp(f.a - p["lung_medial_a"], max(f.px, 0.03)) * above
    # Rib cage: a little larger than the lungs, reaching from above the apex to below the sulci.
    cage_q = np.square((f.a - p["lung_center_a"]) / (r + 0.1)) + np.square(ey / (ry + 0.1))
    return lung, _ramp(1.0 - cage_q, 0.25)


def _lung_markings(
    f: _Frame, p: dict[str, float], rng: np.random.Generator, hil_y: np.ndarray
) -> np.ndarray:
    """Hilar shadows plus vessels fanning out from them (density, before masking by lung)."""
    dx = f.a - (p["lung_medial_a"] + 0.04)
    dy = f.Y - hil_y
    rad = np.sqrt(dx * dx + dy * dy)
    wobble = _smooth_noise(rng, f.X.shape[0], _BREAK_GRID)
    # Vessels are ridges where a random function of the direction (its sine, wobbled so they
    # curve) crosses zero, so they radiate from the hilum; a lookup table keeps this cheap.
    knots = rng.standard_normal((2, _FAN_KNOTS))
    table = np.concatenate([np.interp(_FAN_FINE, _FAN_COARSE, k) for k in knots]).astype(np.float32)
    half = 0.5 * (_FAN_RES - 1)
    sine = np.clip(dy / (rad + 1e-3) + 0.1 * wobble, -1.0, 1.0)
    idx = ((sine + 1.0) * half + (f.side + 1.0) * (0.5 * _FAN_RES)).astype(np.intp)
    fan = table.take(idx)
    sharp = min(_VESSEL_SHARPNESS, 0.13 / f.px)  # no thinner than about a pixel
    # Tapering: half as wide at radius 0.8 as at 0.4 (where the width is as documented above).
    taper = (2.5 * sharp) * rad * rad
    vessels = np.clip(1.0 - np.abs(fan) * taper, 0.0, 1.0) * (sharp / _VESSEL_SHARPNESS)
    # Segments, not endless lines, and fading out towards the periphery.
    breaks = np.clip(0.6 + wobble[::-1], 0.0, 1.0)  # flipped: independent of the wobble here
    vessels *= breaks * np.clip(1.0 - rad * (1.0 / 1.2), 0.0, 1.0)
    hilum = np.exp(-(dx * dx) * (1.0 / 0.006) - (dy * dy) * (1.0 / 0.025))
    return p["hilum_density"] * hilum + p["vessel_density"] * vessels


def _heart(f: _Frame, p: dict[str, float], dome_top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heart silhouette and thickness, both in [0, 1]; it hangs from the mediastinum and sits
    on the diaphragm.

    Its border on the viewer's right sweeps out from the aortic knob to the apex; on the
    viewer's left it bulges a little past the mediastinum (right atrium).
    """
    h_top = p["heart_top"]
    h = np.clip((f.Y - h_top) / (dome_top + 0.08 - h_top), 0.0, 1.0)
    w = np.abs(1.0 - h * (1.0 / p["heart_peak"]))
    swell = 1.0 - w * np.sqrt(w)  # convex, widest at heart_peak of the way down
    m = p["lung_medial_a"] - 0.02
    right_x = m + (p["heart_width"] - m) * swell
    left_x = -(m + p["heart_right_bulge"] * swell)
    mask = _ramp(right_x - f.X, f.px) * _ramp(f.X - left_x, f.px) * _ramp(f.Y - h_top, 0.15)
    # Thicker in the middle than at the borders, like a rounded organ.
    across = (right_x - f.X) * (f.X - left_x) / np.square(0.5 * (right_x - left_x) + 0.05)
    return mask, mask * (0.6 + 0.4 * np.sqrt(np.clip(across, 0.0, 1.0)))


def _mediastinum(f: _Frame, p: dict[str, float], above: np.ndarray) -> np.ndarray:
    """Aortic knob and trachea above the heart, and a gastric bubble below the left dome."""
    m = p["lung_medial_a"] - 0.02
    knob = 1.0 - (np.square(f.X - m - 0.03) + np.square(f.Y - p["heart_top"] + 0.06)) * (
        1.0 / 0.07**2
    )
    dens = p["aortic_knob"] * np.clip(knob, 0.0, 1.0)
    carina = p["heart_top"] - 0.12
    trachea = _thin_band(f.X, 0.05, f.px) * np.clip((carina - f.Y) * (1.0 / 0.08), 0.0, 1.0)
    dens -= p["trachea_air"] * trachea
    if p["gastric_bubble"] > 0.0:  # only some draws have one
        gq = np.square((f.X - 0.45) * (1.0 / 0.16)) + np.square((f.Y - p["dome_y"] - 0.2) / 0.09)
        dens -= p["gastric_bubble"] * np.clip(1.0 - gq, 0.0, 1.0) * (1.0 - above)
    return dens


def _spine(f: _Frame, p: dict[str, float]) -> np.ndarray:
    """A bony column with darker disc spaces, one vertebra per rib."""
    sp = p["rib_spacing"]
    vert_t = (f.Y - p["rib_phase"] * sp) * (1.0 / sp)
    discs = _periodic_band(vert_t, 0.8, f.px / sp)
    return p["spine_density"] * _thin_band(f.X, p["spine_half_width"], f.px) * (0.75 + 0.25 * discs)


def _ribs(f: _Frame, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Posterior ribs (arcs down and out from the spine) and fainter anterior ribs (sloping
    the other way), as band patterns in [0, 1] before masking by the rib cage."""
    sp = p["rib_spacing"]
    arc_y = f.Y - (p["rib_arc"] * f.a - p["rib_rise"]) * f.a
    t0 = (arc_y - p["lung_apex_y"] + 0.1) * (1.0 / sp)
    t = t0 - (p["rib_spacing_growth"] * 0.5 * sp / 1.6) * t0 * t0  # spacing widens downwards
    slope = 2.0 * p["rib_arc"] * f.a - p["rib_rise"]
    cyc = (f.px / sp) * np.sqrt(1.0 + slope * slope)  # local rib frequency, cycles per pixel
    posterior = _periodic_band(t + p["rib_phase"], p["rib_width"], cyc)
    ant_sp = 1.6 * sp
    ant_t = (f.Y + p["anterior_rib_slope"] * f.a) * (1.0 / ant_sp)
    anterior = _periodic_band(ant_t, 0.35, f.px / ant_sp) * _ramp(f.a - 0.3, 0.2)
    return posterior, anterior


def _clavicles(f: _Frame, p: dict[str, float]) -> np.ndarray:
    """Bony bars from the sternal notch rising out towards the shoulders."""
    clav_y = p["clavicle_y"] - p["clavicle_rise"] * (f.a - 0.08) + 0.25 * np.square(f.a - 0.4)
    bar = _thin_band(f.Y - clav_y, 0.045, f.px) * _ramp(f.a - 0.08, 0.04) * _ramp(0.85 - f.a, 0.08)
    return p["clavicle_density"] * bar


def _expose(dens: np.ndarray, p: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Tone curve (exposure), window and midtones (contrast), then quantum noise."""
    img = 1.0 - np.exp(np.maximum(dens, 0.0) * -p["mu"])
    top = 1.0 - math.exp(-p["mu"] * 1.4)  # about the densest tissue: abdomen plus bone
    lo, hi = p["black"] * top, p["white"] * top
    img = np.clip((img - lo) * (1.0 / (hi - lo)), 0.0, 1.0)
    img += p["midtones"] * img * (1.0 - img)
    # Uniform noise from raw bytes: much cheaper than Gaussian and looks the same.
    size = dens.shape[0]
    u = np.frombuffer(rng.bytes(size * size), dtype=np.uint8).reshape(size, size)
    img += (u.astype(np.float32) - 127.5) * (p["noise"] * math.sqrt(12.0) / 256.0)
    return np.clip(img, 0.0, 1.0, out=img)


def render_phantom(
    rng: np.random.Generator, size: int, spec: PhantomSpec = DEFAULT_SPEC
) -> np.ndarray:
    """One phantom, float32 ``(size, size)`` in [0, 1]; bright = dense. See the module doc."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    p = _draw(rng, spec)
    f = _frame(p, size)

    # Densities add up along the beam: soft tissue, minus the air in the lungs, plus the rest.
    dome_top, dome, above = _diaphragm(f, p)
    dens = _soft_tissue(f, p, above)
    lung, cage = _lung_fields(f, p, dome_top, above)
    hil_y = 0.5 * (p["lung_apex_y"] + dome_top) + 0.05
    dens += lung * _lung_markings(f, p, rng, hil_y)
    heart, thickness = _heart(f, p, dome_top)
    # The heart displaces lung, so its silhouette is about as dense as the mediastinum.
    lung *= 1.0 - 0.85 * heart
    dens -= p["lung_air"] * lung
    dens += p["heart_density"] * thickness * above
    dens += _mediastinum(f, p, above)
    dens += _spine(f, p)
    posterior, anterior = _ribs(f, p)
    # Ribs fade out at the spine and below the sulci, and over the dense heart they are far
    # less conspicuous than over lung.
    cage *= _ramp(f.a - 0.06, 0.06) * _ramp(dome + 0.12 - f.Y, 0.1) * (1.0 - 0.6 * heart)
    dens += cage * (p["rib_density"] * posterior + p["anterior_rib_density"] * anterior)
    dens += _clavicles(f, p)
    dens += p["mottle"] * _smooth_noise(rng, size, _MOTTLE_GRID)
    return _expose(dens, p, rng)


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
