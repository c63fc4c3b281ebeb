"""Per-image wavelet-packet feature vectors for KID and precision/recall/density/coverage.

FWD compares per-packet Gaussians and needs no per-image vector; KID and PRDC need one vector per
image in a space where Euclidean distance means "looks alike". With no pretrained network
(offline, and ImageNet features mean little for radiographs) we build it from the same Haar
packets FWD uses, at level L (4 at 64 px), from three groups:

* log energy of every packet, log(mean c² + 1e-6): the image's power spectrum in 4**L bands.
  Blur removes high-band energy, noise and checkerboard artefacts add it, contrast scales it.
  The log turns these multiplicative changes into shifts of comparable size across bands whose
  energies span many decades; 1e-6 is about the energy 8-bit rounding adds to every
  coefficient, so bands below that floor do not turn into huge negative outliers.
* mean of every packet: brightness (low band) and consistent edges with a fixed sign, e.g. the
  dark lung fields beside the bright mediastinum sit at the same place in every radiograph.
* the low-pass image at a coarse scale (2 levels below the input, 16 x 16 at 64 px): the
  layout. Energy and mean are pooled over the whole image and are blind to where things are;
  chest films are aligned, so a generator that misplaces the heart or shifts the field of view
  must be penalised.

`FeatureSpace` standardises them with the REAL set's statistics (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cxrgan.metrics.images import ImageArray, chunks, to_unit
from cxrgan.metrics.wavelets import crop_to_multiple, default_level, haar_packets

ENERGY_FLOOR = 1e-6  # ~ (1/255)² / 12: what 8-bit rounding adds to each orthonormal coefficient
LAYOUT_LEVELS = 2  # the layout group is the image low-passed by 2**2 (16 x 16 at 64 px)
CHUNK = 1024
Z_CLIP = 5.0  # standardised features saturate at ±5 reference standard deviations


def features_from_packets(x: torch.Tensor, packets: torch.Tensor, level: int) -> torch.Tensor:
    """Raw features of unit-range images `x` (n, H, W) given their Haar packets (n, P, h, w)."""
    packets = packets.flatten(2)  # (n, P, h*w)
    energy = torch.log(packets.pow(2).mean(-1) + ENERGY_FLOOR)
    mean = packets.mean(-1)
    layout_level = min(LAYOUT_LEVELS, level)
    side = 2**layout_level
    low = crop_to_multiple(x, 2**level)  # the same pixels the packets saw
    n, h, w = low.shape
    layout = low.reshape(n, h // side, side, w // side, side).mean((2, 4)).flatten(1)
    return torch.cat([energy, mean, layout], dim=1)


def _unit_features(x: torch.Tensor, level: int) -> np.ndarray:
    parts = [
        features_from_packets(x[c], haar_packets(x[c], level), level) for c in chunks(len(x), CHUNK)
    ]
    return torch.cat(parts).numpy()


def wavelet_features(images: ImageArray, level: int | None = None) -> np.ndarray:
    """(N, D) float64 raw features: [log packet energies | packet means | coarse layout]."""
    x = to_unit(images)
    return _unit_features(x, default_level(min(x.shape[-2:])) if level is None else level)


def group_sizes(shape: tuple[int, int], level: int) -> list[int]:
    """Number of features in each group (energy, mean, layout) for images of `shape`."""
    cell = 2 ** min(LAYOUT_LEVELS, level)
    h, w = (s - s % 2**level for s in shape)
    return [4**level, 4**level, (h // cell) * (w // cell)]


@dataclass
class FeatureSpace:
    """Wavelet features standardised with a reference (real) set: fit once, apply to any set.

    Each feature is z-scored with the reference mean and spread, so every band weighs in on the
    same scale (the polynomial kernel and k-NN distances are otherwise dominated by the largest
    raw numbers). z-scores are clipped to ±5: further out a feature is simply "far off", and
    without the clip a few broken images, or a feature with almost no real spread, dominate the
    cubic KID kernel (an untrained generator scored 1.7e5 unclipped, 3e2 clipped; patient
    halves and the corruption ladders moved by < 2 % except their strongest rungs, e.g. blur
    sigma 2 px: 274 -> 189; a clip at 3 started to reorder precision along the blur ladder).
    Then each group of k features is scaled by sqrt(D / (3 k)) so the three groups carry equal
    total weight whatever the image size, while the vectors keep the E|x|² ≈ D of plain
    z-scores that the KID kernel's 1/D normalisation expects.
    """

    level: int
    shape: tuple[int, int]
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray

    @classmethod
    def fit(cls, reference: ImageArray, level: int | None = None) -> FeatureSpace:
        """Fit on reference images (uint8 or [-1, 1] floats)."""
        x = to_unit(reference)
        shape = (int(x.shape[-2]), int(x.shape[-1]))
        level = default_level(min(shape)) if level is None else level
        return cls.from_raw(_unit_features(x, level), shape, level)

    @classmethod
    def from_raw(cls, raw: np.ndarray, shape: tuple[int, int], level: int) -> FeatureSpace:
        """Fit on raw reference features already computed for images of `shape`."""
        sizes = group_sizes(shape, level)
        if sum(sizes) != raw.shape[1]:
            raise ValueError(f"{raw.shape[1]} features, expected {sum(sizes)} for {shape} px")
        std = raw.std(0)
        # Features constant over the reference set (e.g. a black border) would divide by ~0.
        floor = max(float(np.median(std)) * 1e-3, 1e-12)
        total = raw.shape[1]
        weight = np.concatenate([np.full(k, np.sqrt(total / (len(sizes) * k))) for k in sizes])
        return cls(level, shape, raw.mean(0), np.maximum(std, floor), weight)

    def __call__(self, images: ImageArray) -> np.ndarray:
        """(N, D) standardised features of `images` (same size as the reference)."""
        return self.standardize(wavelet_features(images, self.level))

    def standardize(self, raw: np.ndarray) -> np.ndarray:
        """Standardise raw `wavelet_features` (or `features_from_packets`) output."""
        if raw.shape[1] != self.mean.shape[0]:
            raise ValueError(f"images do not match the reference size {self.shape}")
        return np.clip((raw - self.mean) / self.std, -Z_CLIP, Z_CLIP) * self.weight
