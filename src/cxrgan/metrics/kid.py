"""Kernel Inception Distance (Bińkowski et al., 2018) on wavelet features instead of Inception ones.

KID = unbiased estimate of MMD² with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³,
averaged over random subsets of both sets (mean ± std over subsets, as torch-fidelity reports it).
Unlike FID/FWD it is unbiased: its expectation is 0 when both sets come from one distribution,
so a single estimate can be slightly negative, and small sets do not inflate it.

Every subset statistic is a sum of kernel entries over index pairs, so the full kernel matrices
are built once (in row blocks, to bound memory) and all subsets are summed with one matrix
product against 0/1 subset indicators, instead of recomputing kernels for every subset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cxrgan.metrics.images import chunks

DEFAULT_SUBSETS = 100
DEFAULT_SUBSET_SIZE = 1000  # torch-fidelity's default; capped at the smaller set's size
BLOCK = 2048  # kernel rows per block


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
    """The real side of KID, computed once: features, subset draws and within-subset sums."""

    features: torch.Tensor
    indicators: torch.Tensor
    within: torch.Tensor  # (subsets,) sums of k(x_i, x_j), i != j, within each real subset
    subset_size: int
    seed: int

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
            raise ValueError("KID needs at least 2 samples per set")
        ind = subset_indicators(len(x), size, subsets, np.random.default_rng(seed))
        return cls(
            features=x, indicators=ind, within=within_sums(x, ind), subset_size=size, seed=seed
        )

    def compare(self, fake_features: np.ndarray | torch.Tensor) -> tuple[float, float]:
        """(mean, std) of the unbiased MMD² over subsets against `fake_features`."""
        y = _as_tensor(fake_features)
        if y.shape[1] != self.features.shape[1]:
            raise ValueError(f"feature sizes differ: {self.features.shape[1]} vs {y.shape[1]}")
        m = min(self.subset_size, len(y))
        if m < 2:
            raise ValueError("KID needs at least 2 samples per set")
        ind_r = self.indicators
        if m < self.subset_size:  # fewer fakes than a real subset: redraw real subsets of m
            return KidReference.build(self.features, ind_r.shape[1], m, self.seed).compare(y)
        ind_f = subset_indicators(len(y), m, ind_r.shape[1], np.random.default_rng(self.seed + 1))
        pairs = m * (m - 1)
        mmd = (
            self.within / pairs
            + within_sums(y, ind_f) / pairs
            - 2 * subset_sums(self.features, y, ind_r, ind_f) / (m * m)
        )
        return float(mmd.mean()), float(mmd.std(correction=0))


def kid(
    real_features: np.ndarray | torch.Tensor,
    fake_features: np.ndarray | torch.Tensor,
    subsets: int = DEFAULT_SUBSETS,
    subset_size: int = DEFAULT_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (mean, std over subsets) between two feature sets (N, D); lower is better, ~0 ideal."""
    size = min(subset_size, len(real_features), len(fake_features))
    return KidReference.build(real_features, subsets, size, seed).compare(fake_features)
