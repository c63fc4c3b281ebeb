"""The phantoms' parameters: the uniform range of every quantity an image draws.

`PhantomSpec` is the one place to read or tune them (phantoms.py says what is drawn,
phantom_anatomy.py how). Each image draws every field once, in field order, so a given
`(seed, index)` always gives the same parameters.
"""

from __future__ import annotations

import dataclasses
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


@lru_cache(maxsize=8)
def _bounds(spec: PhantomSpec) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    names = tuple(f.name for f in dataclasses.fields(spec))
    lo = np.array([getattr(spec, n)[0] for n in names], dtype=np.float64)
    hi = np.array([getattr(spec, n)[1] for n in names], dtype=np.float64)
    return names, lo, hi


def draw_parameters(rng: np.random.Generator, spec: PhantomSpec) -> dict[str, float]:
    """One uniform draw per spec field, in field order (so images are reproducible)."""
    names, lo, hi = _bounds(spec)
    # Python floats: numpy float64 scalars would promote the float32 grids.
    return dict(zip(names, rng.uniform(lo, hi).tolist(), strict=True))
