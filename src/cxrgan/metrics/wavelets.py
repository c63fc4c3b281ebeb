"""2-D wavelet-packet transform of image batches, in pytorchfwd's packet order.

A level-L packet transform splits every image into 4**L packets, one per path of filter choices
through the tree. Paths use PyWavelets/ptwt names per level: a = low-low, h = high along rows
(vertical differences), v = high along columns, d = high-high; `packet_paths(L)` lists them in
the "natural" order `itertools.product("ahvd", repeat=L)`, which is what ptwt's
`WaveletPacket2D.get_natural_order` and so pytorchfwd use.

For the Haar wavelet every level-L packet coefficient is the inner product of one aligned
2**L x 2**L pixel block with a separable Walsh function, so the whole tree is two small matrix
products per block: orders of magnitude faster than filtering level by level, and exactly equal
(to rounding) to PyWavelets' and ptwt's Haar packets whenever the image side is a multiple of
2**L. Other wavelets go through PyWavelets (mode "reflect", ptwt's default).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import pywt
import torch

DEFAULT_LEVEL = 4  # pytorchfwd's default --max_level
MIN_PACKET_SIDE = 4  # keep >= 4x4 coefficients per packet, so each packet still has a layout
LOG_EPS = 1e-6  # pytorchfwd's log-scaling offset: log(|c| + 1e-6)

# How each 2-D path letter splits into (rows filter, columns filter): a = lo, d = hi.
_SPLIT = {"a": ("a", "a"), "h": ("d", "a"), "v": ("a", "d"), "d": ("d", "d")}


def packet_paths(level: int) -> list[str]:
    """Packet names in natural order, e.g. level 1 -> ['a', 'h', 'v', 'd']."""
    return ["".join(p) for p in itertools.product("ahvd", repeat=level)]


def default_level(size: int) -> int:
    """pytorchfwd's level 4, fewer for small images so packets keep >= 4x4 coefficients.

    64 px -> 4 (256 packets of 4x4), 128 px -> 4 (8x8), 32 px -> 3, 16 px -> 2, 8 px -> 1.
    """
    return int(max(1, min(DEFAULT_LEVEL, math.floor(math.log2(size / MIN_PACKET_SIDE)))))


@lru_cache(maxsize=8)
def _haar_rows(level: int) -> torch.Tensor:
    """(2**L, 2**L) matrix: row i = the 1-D Haar packet of natural path i over one block.

    A packet path (f1, ..., fL) applied level by level to 2**L samples equals one inner product
    with kron(fL, ..., f1), the level-1 filter acting on neighbouring samples.
    """
    lo = torch.tensor([1.0, 1.0], dtype=torch.float64) / math.sqrt(2.0)
    hi = torch.tensor([1.0, -1.0], dtype=torch.float64) / math.sqrt(2.0)
    rows = []
    for path in itertools.product((lo, hi), repeat=level):
        row = torch.ones(1, dtype=torch.float64)
        for f in path:  # f1 first, so it ends up as the fastest-varying factor
            row = torch.kron(f, row)
        rows.append(row)
    return torch.stack(rows)


@lru_cache(maxsize=8)
def _natural_index(level: int) -> torch.Tensor:
    """Flat (rows path * 2**L + columns path) index of each 2-D packet, in natural order."""
    one_d = ["".join(p) for p in itertools.product("ad", repeat=level)]
    pos = {p: i for i, p in enumerate(one_d)}
    side = 2**level
    index = []
    for path in packet_paths(level):
        rows = "".join(_SPLIT[c][0] for c in path)
        cols = "".join(_SPLIT[c][1] for c in path)
        index.append(pos[rows] * side + pos[cols])
    return torch.tensor(index)


def crop_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Centre-crop (N, H, W) so both sides are multiples of `multiple`."""
    h, w = x.shape[-2:]
    nh, nw = h - h % multiple, w - w % multiple
    if nh == 0 or nw == 0:
        raise ValueError(f"images of {h}x{w} px are smaller than one {multiple}x{multiple} block")
    top, left = (h - nh) // 2, (w - nw) // 2
    return x[..., top : top + nh, left : left + nw]


def haar_packets(x: torch.Tensor, level: int) -> torch.Tensor:
    """(N, H, W) -> (N, 4**L, H / 2**L, W / 2**L) orthonormal Haar packets, natural order.

    Sides that are not multiples of 2**L are centre-cropped first (ptwt pads instead; the two
    agree exactly when the side is a multiple, e.g. 64 or 128 px at level 4).
    """
    side = 2**level
    x = crop_to_multiple(x, side)
    n, h, w = x.shape
    m = _haar_rows(level).to(x.dtype)
    blocks = x.reshape(n, h // side, side, w // side, side).permute(0, 1, 3, 2, 4)
    coeffs = m @ blocks @ m.T  # (N, h, w, rows path, columns path)
    coeffs = coeffs.reshape(n, h // side, w // side, side * side)
    return coeffs[..., _natural_index(level)].permute(0, 3, 1, 2).contiguous()


def pywt_packets(x: torch.Tensor, level: int, wavelet: str) -> torch.Tensor:
    """Any PyWavelets wavelet, via `pywt.WaveletPacket2D` (slow; the reference for tests)."""
    tree = pywt.WaveletPacket2D(x.numpy(), wavelet, mode="reflect", maxlevel=level, axes=(-2, -1))
    return torch.from_numpy(np.stack([tree[p].data for p in packet_paths(level)], axis=1))


def wavelet_packets(
    x: torch.Tensor, level: int, wavelet: str = "haar", log_scale: bool = False
) -> torch.Tensor:
    """Packets of unit-range images `x` (N, H, W), optionally log-scaled as in pytorchfwd."""
    name = wavelet.lower()
    packets = haar_packets(x, level) if name in ("haar", "db1") else pywt_packets(x, level, name)
    if log_scale:
        packets = torch.log(packets.abs() + LOG_EPS)
    return packets
