"""The anatomy of a phantom: densities of a frontal chest film, then its exposure.

Each part is drawn in continuous anatomy coordinates (`Frame`: x to the viewer's right, y
downwards, both in [-1, 1] before the patient is positioned) and adds its density along the
beam; edges are ramps one pixel wide and periodic patterns (ribs, vertebrae) are low-passed at
the pixel scale, so small sizes do not alias. The parameters `p` are one draw of a
`PhantomSpec` (phantom_spec.py); phantoms.py puts the pieces together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_MOTTLE_GRID = 6  # cells across the image for the low-frequency mottle
_BREAK_GRID = 8  # cells across the image for the noise that breaks vessels into segments
# Vessel fan: a random value every 1/12 of the direction sine around each hilum; with that
# spacing a sharpness of 4 makes vessels about 0.04 wide (half-width = spacing / sharpness).
_FAN_KNOTS = 25
_FAN_RES = 512  # entries per side in the looked-up fan table
_FAN_FINE = np.linspace(-1.0, 1.0, _FAN_RES)
_FAN_COARSE = np.linspace(-1.0, 1.0, _FAN_KNOTS)
_VESSEL_SHARPNESS = 4.0


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
class Frame:
    """Anatomy coordinates of every pixel centre, after positioning the patient."""

    X: np.ndarray  # to the viewer's right
    Y: np.ndarray  # downwards
    a: np.ndarray  # lateral distance from the midline, |X|
    side: np.ndarray  # -1: viewer's left (patient's right), +1: viewer's right
    px: float  # one pixel in anatomy units


def frame(p: dict[str, float], size: int) -> Frame:
    c = _pixel_centres(size)
    th = math.radians(p["rotation_deg"])
    inv = 1.0 / p["scale"]
    cos_t, sin_t = math.cos(th) * inv, math.sin(th) * inv
    cx = c - p["shift_x"]
    cy = c - p["shift_y"]
    X = (cos_t * cx)[None, :] + (sin_t * cy)[:, None]
    Y = (cos_t * cy)[:, None] - (sin_t * cx)[None, :]
    return Frame(X, Y, np.abs(X), np.sign(X), 2.0 / size * inv)


def _diaphragm(f: Frame, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dome height per column, the dome curve, and the soft mask of what lies above it."""
    dome_top = p["dome_y"] + p["dome_left_lower"] * 0.5 * (f.side + 1.0)
    # A parabola per side, peaking over the middle of the lung; it falls more gently medially
    # than into the lateral costophrenic sulcus.
    da = (f.a - p["lung_center_a"]) * (1.0 / p["lung_half_width"])
    dome = dome_top + p["sulcus_depth"] * (0.7 * da * da + 0.3 * da * np.abs(da))
    return dome_top, dome, _ramp(dome - f.Y, f.px)


def _soft_tissue(f: Frame, p: dict[str, float], above: np.ndarray) -> np.ndarray:
    """Chest wall, shoulders and abdomen: a cylinder whose thickness falls off to the sides."""
    neck = np.clip((p["shoulder_y"] - f.Y) * (1.0 / 0.2), 0.0, 1.0)
    half_w = p["body_half_width"] - 0.5 * neck
    body = np.sqrt(np.clip(1.0 - np.square(f.X / half_w), 0.0, 1.0))
    # Shoulder girdle muscles overlap the apices, so the upper lung zones are less dark.
    shoulders = _ramp(-0.45 - f.Y, 0.4)
    extra = p["abdomen_extra"] * (1.0 - above) + p["shoulder_extra"] * shoulders
    return body * (p["soft_tissue"] + extra)


def _lung_fields(
    f: Frame, p: dict[str, float], dome_top: np.ndarray, above: np.ndarray
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
    f: Frame, p: dict[str, float], rng: np.random.Generator, hil_y: np.ndarray
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


def _heart(f: Frame, p: dict[str, float], dome_top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _mediastinum(f: Frame, p: dict[str, float], above: np.ndarray) -> np.ndarray:
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


def _spine(f: Frame, p: dict[str, float]) -> np.ndarray:
    """A bony column with darker disc spaces, one vertebra per rib."""
    sp = p["rib_spacing"]
    vert_t = (f.Y - p["rib_phase"] * sp) * (1.0 / sp)
    discs = _periodic_band(vert_t, 0.8, f.px / sp)
    return p["spine_density"] * _thin_band(f.X, p["spine_half_width"], f.px) * (0.75 + 0.25 * discs)


def _ribs(f: Frame, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
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


def _clavicles(f: Frame, p: dict[str, float]) -> np.ndarray:
    """Bony bars from the sternal notch rising out towards the shoulders."""
    clav_y = p["clavicle_y"] - p["clavicle_rise"] * (f.a - 0.08) + 0.25 * np.square(f.a - 0.4)
    bar = _thin_band(f.Y - clav_y, 0.045, f.px) * _ramp(f.a - 0.08, 0.04) * _ramp(0.85 - f.a, 0.08)
    return p["clavicle_density"] * bar


def chest_density(f: Frame, p: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """The density of every pixel: what the beam crosses, before exposure (see `expose`)."""
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
    dens += p["mottle"] * _smooth_noise(rng, f.X.shape[0], _MOTTLE_GRID)
    return dens


def expose(dens: np.ndarray, p: dict[str, float], rng: np.random.Generator) -> np.ndarray:
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
