"""Per-image wavelet feature vectors: one space for KID, one for precision/recall/density/coverage.

FWD compares per-packet Gaussians and needs no per-image vector; KID and PRDC need one vector per
image in a space where Euclidean distance means "looks alike". With no pretrained network
(offline, and ImageNet features mean little for radiographs) we build them from the same Haar
packets FWD uses.

KID (`FeatureSpace`), at level L (4 at 64 px), three groups:

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

PRDC (`PrdcSpace`) needs more than a space where far means different: its k-NN balls turn
distances into yes/no, so every feature must move gradually with a defect. In the KID space the
256 packet energies tile the spectrum uniformly, so most of them are high-frequency bands that a
blur of 1 px (or fine noise) pushes many real standard deviations away, all at once: precision
and recall were 0 for blur sigma >= 1 px and for every generator trained so far. `PrdcSpace`:

* texture: log energy of each dyadic (octave) Haar band, levels 1..L x (h, v, d), in each cell
  of a 4 x 4 grid (3 L 16 features; 192 at 64 px). One band per octave, so a stronger blur or
  noise reaches one more octave per step instead of all bands at once; the grid keeps where the
  texture is (lungs, mediastinum, edges of the film).
* layout: the image low-passed to 16 x 16 (256 features).
* each feature z-scored with the real set, clipped to ±5; texture weighted 0.25 against layout
  (the total squared norm of each group is its weight², so texture is ~6 % of the distance
  between two real images, and a texture defect adds at most ~1.6 times that typical distance);
* PCA fitted on the real side: the top 64 components (not whitened: whitening stretches the
  low-variance texture directions again and brings the cliff back).

Validated with ladders in docs/metrics.md: blur sigma 0.5 -> 3 px and noise 4 -> 32 gray levels
lower precision and recall step by step; mode dropping lowers recall and coverage only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from cxrgan.metrics.images import ImageArray, chunks, to_unit
from cxrgan.metrics.wavelets import crop_to_multiple, default_level, haar_packets, packet_paths

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


# --- precision / recall / density / coverage ----------------------------------------------

PRDC_GRID = 4  # texture cells per side
PRDC_LAYOUT = 16  # layout thumbnail side
TEXTURE_WEIGHT = 0.25  # texture group against layout (1): see the module docstring
PRDC_COMPONENTS = 64  # principal components kept


@lru_cache(maxsize=8)
def _band_matrix(level: int) -> torch.Tensor:
    """(3 L, 4**L) averaging matrix: row (j, o) averages the packets of octave j, orientation o.

    A level-L Haar packet path starting with j - 1 'a's then o in (h, v, d) refines the level-j
    detail band o of the ordinary (Mallat) wavelet transform: the band's energy is the sum of
    its packets' energies, so the mean over them is its energy per coefficient.
    """
    paths = packet_paths(level)
    rows = []
    for j in range(1, level + 1):
        for o in "hvd":
            member = torch.tensor(
                [p.startswith("a" * (j - 1) + o) for p in paths], dtype=torch.float64
            )
            rows.append(member / member.sum())
    return torch.stack(rows)


def prdc_features_from_packets(x: torch.Tensor, packets: torch.Tensor, level: int) -> torch.Tensor:
    """Raw PRDC features of unit-range images `x` (n, H, W) given their Haar packets.

    [log energy of every octave band in every grid cell | layout thumbnail]."""
    h, w = packets.shape[-2:]
    energy = torch.einsum("bp,nphw->nbhw", _band_matrix(level), packets.pow(2))
    cells = F.adaptive_avg_pool2d(energy, (min(PRDC_GRID, h), min(PRDC_GRID, w)))
    texture = torch.log(cells.flatten(1) + ENERGY_FLOOR)
    low = crop_to_multiple(x, 2**level).unsqueeze(1)  # the same pixels the packets saw
    side = (min(PRDC_LAYOUT, low.shape[-2]), min(PRDC_LAYOUT, low.shape[-1]))
    layout = F.adaptive_avg_pool2d(low, side).flatten(1)
    return torch.cat([texture, layout], dim=1)


def prdc_group_sizes(shape: tuple[int, int], level: int) -> tuple[int, int]:
    """Number of (texture, layout) PRDC features for images of `shape` at `level`."""
    h, w = (s - s % 2**level for s in shape)
    cells = min(PRDC_GRID, h >> level) * min(PRDC_GRID, w >> level)
    return 3 * level * cells, min(PRDC_LAYOUT, h) * min(PRDC_LAYOUT, w)


def _prdc_unit_features(x: torch.Tensor, level: int) -> np.ndarray:
    parts = [
        prdc_features_from_packets(x[c], haar_packets(x[c], level), level)
        for c in chunks(len(x), CHUNK)
    ]
    return torch.cat(parts).numpy()


def prdc_features(images: ImageArray, level: int | None = None) -> np.ndarray:
    """(N, D) float64 raw PRDC features (see `prdc_features_from_packets`)."""
    x = to_unit(images)
    return _prdc_unit_features(x, default_level(min(x.shape[-2:])) if level is None else level)


@dataclass
class PrdcSpace:
    """The space PRDC's k-NN runs in, fitted on real images (see the module docstring)."""

    level: int
    texture: int  # number of texture features (the rest is layout)
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    centre: np.ndarray  # mean of the weighted z-scores, the PCA's origin
    components: np.ndarray  # (k, D) principal axes, largest variance first

    @classmethod
    def fit(cls, reference: ImageArray, level: int | None = None) -> PrdcSpace:
        x = to_unit(reference)
        shape = (int(x.shape[-2]), int(x.shape[-1]))
        level = default_level(min(shape)) if level is None else level
        return cls.from_raw(_prdc_unit_features(x, level), shape, level)

    @classmethod
    def from_raw(cls, raw: np.ndarray, shape: tuple[int, int], level: int) -> PrdcSpace:
        """Fit on raw `prdc_features` of the reference (real) images of `shape`."""
        if len(raw) < 2:
            raise ValueError(f"PrdcSpace needs at least 2 reference images, got {len(raw)}")
        texture, layout = prdc_group_sizes(shape, level)
        if texture + layout != raw.shape[1]:
            raise ValueError(f"{raw.shape[1]} features, expected {texture + layout} for {shape}")
        std = raw.std(0)
        floor = max(float(np.median(std)) * 1e-3, 1e-12)  # constant features (a black border)
        weight = np.concatenate(
            [
                np.full(texture, TEXTURE_WEIGHT / np.sqrt(texture)),
                np.full(layout, 1 / np.sqrt(layout)),
            ]
        )
        mean, std = raw.mean(0), np.maximum(std, floor)
        z = np.clip((raw - mean) / std, -Z_CLIP, Z_CLIP) * weight
        centre = z.mean(0)
        # PCA from the (D, D) scatter matrix with torch: numpy's SVD runs on every OpenBLAS
        # thread, and on a busy machine those threads spin (10 s instead of 0.1 s measured).
        zt = torch.from_numpy(z - centre)
        values, vectors = torch.linalg.eigh(zt.T @ zt)
        keep = min(PRDC_COMPONENTS, len(raw) - 1, z.shape[1])  # n - 1: the rank of centred data
        components = vectors[:, values.argsort(descending=True)[:keep]].T.contiguous()
        return cls(level, texture, mean, std, weight, centre, components.numpy())

    def __call__(self, images: ImageArray) -> np.ndarray:
        """(N, k) coordinates of `images` (same size as the reference)."""
        return self.project(prdc_features(images, self.level))

    def project(self, raw: np.ndarray) -> np.ndarray:
        """Coordinates of raw `prdc_features` output."""
        if raw.shape[1] != self.mean.shape[0]:
            raise ValueError("images do not match the size of the reference images")
        z = np.clip((raw - self.mean) / self.std, -Z_CLIP, Z_CLIP) * self.weight
        return (torch.from_numpy(z - self.centre) @ torch.from_numpy(self.components).T).numpy()
