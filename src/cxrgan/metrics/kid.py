"""Kernel Inception Distance (Bińkowski et al., 2018) on wavelet features instead of Inception ones.

KID = unbiased estimate of MMD² with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³,
averaged over random subsets of both sets (mean ± std over subsets, as torch-fidelity reports it).
When both sets are no larger than the subset size every "subset" is the whole set: there is one
subset, computed once, and no spread (std None rather than a rounding residue such as 8.7e-17).
Unlike FID/FWD it is unbiased: its expectation is 0 when both sets come from one distribution,
so a single estimate can be slightly negative, and small sets do not inflate it.

Every subset statistic is a sum of kernel entries over index pairs, so the full kernel matrices
are built once (in row blocks, to bound memory) and all subsets are summed with one matrix
product against 0/1 subset indicators, instead of recomputing kernels for every subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from cxrgan.metrics.images import chunks

DEFAULT_SUBSETS = 100
DEFAULT_SUBSET_SIZE = 1000  # torch-fidelity's default; capped at the smaller set's size
BLOCK = 2048  # kernel rows per block


class KidResult(NamedTuple):
    """KID over `subsets` random subsets: mean, and std over them (None when subsets == 1)."""

    mean: float
    std: float | None
    subsets: int


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x·y / d + 1)³ for all row pairs: (n, d), (m, d) -> (n, m)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def subset_indicators(n: int, size: int, subsets: int, rng: np.random.Generator) -> torch.Tensor:
    """(n, subsets) 0/1 matrix: column s marks `size` indices drawn without replacement."""
    ind = np.zeros((n, subsets))
    for s in range(subsets):
        ind[rng.choice(n, size=size, replace=False), s] = 1.0
    return torch.from_numpy(ind)


def subset_sums(
    x: torch.Tensor, y: torch.Tensor, ind_x: torch.Tensor, ind_y: torch.Tensor
) -> torch.Tensor:
    """For each subset s: sum over i in X_s, j in Y_s of k(x_i, y_j). Returns (subsets,)."""
    total = torch.zeros(ind_x.shape[1], dtype=torch.float64)
    for rows in chunks(len(x), BLOCK):
        total += (ind_x[rows] * (polynomial_kernel(x[rows], y) @ ind_y)).sum(0)
    return total


def within_sums(x: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """Like `subset_sums(x, x, ind, ind)` but without the diagonal i == j (unbiased estimate)."""
    diag = (x.pow(2).sum(1) / x.shape[1] + 1.0) ** 3
    return subset_sums(x, x, ind, ind) - diag @ ind


def _as_tensor(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = features if isinstance(features, torch.Tensor) else torch.from_numpy(np.asarray(features))
    return t.to(torch.float64)


@dataclass
class KidReference:
    """The real side of KID, computed once: features, subset draws and within-subset sums.

    When the subset size covers the whole real set, every draw would be that set: it is drawn
    once (`indicators` has one column) and reused for each fake subset.
    """

    features: torch.Tensor
    indicators: torch.Tensor  # (n, draws) 0/1; one column when the subset is the whole set
    within: torch.Tensor  # (draws,) sums of k(x_i, x_j), i != j, within each real subset
    subset_size: int
    seed: int
    subsets: int = DEFAULT_SUBSETS  # how many subsets were asked for

    @classmethod
    def build(
        cls,
        features: np.ndarray | torch.Tensor,
        subsets: int = DEFAULT_SUBSETS,
        subset_size: int = DEFAULT_SUBSET_SIZE,
        seed: int = 0,
    ) -> KidReference:
        x = _as_tensor(features)
        size = min(subset_size, len(x))
        if size < 2:
            raise ValueError(f"KID needs at least 2 samples per set, got {len(x)}")
        draws = 1 if size == len(x) else subsets
        ind = subset_indicators(len(x), size, draws, np.random.default_rng(seed))
        return cls(x, ind, within_sums(x, ind), size, seed, subsets)

    @property
    def whole_set(self) -> bool:
        """True when the real side's subset is all of its samples."""
        return self.subset_size == len(self.features)

    def compare(self, fake_features: np.ndarray | torch.Tensor) -> KidResult:
        """Mean and std of the unbiased MMD² over subsets against `fake_features`.

        The spread comes from drawing different subsets; when both sides are used whole there
        is only one draw: `subsets` is 1 and `std` None.
        """
        y = _as_tensor(fake_features)
        if y.shape[1] != self.features.shape[1]:
            raise ValueError(f"feature sizes differ: {self.features.shape[1]} vs {y.shape[1]}")
        m = min(self.subset_size, len(y))
        if m < 2:
            raise ValueError(f"KID needs at least 2 samples per set, got {len(y)}")
        if m < self.subset_size:  # fewer fakes than a real subset: redraw real subsets of m
            return KidReference.build(self.features, self.subsets, m, self.seed).compare(y)
        draws = 1 if self.whole_set and m == len(y) else self.subsets
        ind_r, within_r = self.indicators, self.within
        if ind_r.shape[1] != draws:  # the whole real set against several fake subsets
            ind_r, within_r = ind_r.expand(-1, draws), within_r.expand(draws)
        ind_f = subset_indicators(len(y), m, draws, np.random.default_rng(self.seed + 1))
        pairs = m * (m - 1)
        mmd = (
            within_r / pairs
            + within_sums(y, ind_f) / pairs
            - 2 * subset_sums(self.features, y, ind_r, ind_f) / (m * m)
        )
        std = float(mmd.std(correction=0)) if draws > 1 else None
        return KidResult(float(mmd.mean()), std, draws)


def kid(
    real_features: np.ndarray | torch.Tensor,
    fake_features: np.ndarray | torch.Tensor,
    subsets: int = DEFAULT_SUBSETS,
    subset_size: int = DEFAULT_SUBSET_SIZE,
    seed: int = 0,
) -> KidResult:
    """KID (mean, std over subsets, number of subsets) between feature sets (N, D) and (M, D).

    Lower is better, ~0 ideal. std is None when there is only one subset (both sets no larger
    than `subset_size`)."""
    size = min(subset_size, len(real_features), len(fake_features))
    return KidReference.build(real_features, subsets, size, seed).compare(fake_features)
