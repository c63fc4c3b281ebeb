"""Precision, recall (Kynkäänniemi et al., 2019), density and coverage (Naeem et al., 2020).

Each real sample gets a ball reaching its k-th nearest real neighbour (likewise for fakes):

* precision: share of fakes inside at least one real ball (fidelity: fakes look real);
* recall: share of reals inside at least one fake ball (diversity: the real variety is covered);
* density: mean number of real balls holding a fake, divided by k (~1 when the sets match;
  > 1 when fakes crowd into dense real regions); robust to real outliers, unlike precision;
* coverage: share of reals whose ball holds at least one fake (diversity, robust to fake
  outliers, unlike recall).

"Inside" is strict (<), as in the reference `prdc` package, so identical sets give exactly 1 for
all four when no distances tie. Run it on standardised wavelet features (`FeatureSpace`).
"""

from __future__ import annotations

import numpy as np
import torch

from cxrgan.metrics.images import chunks

DEFAULT_K = 5
BLOCK = 2048


def _as64(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    return t.to(torch.float64)


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from every row to its k-th nearest other row (the point itself excluded)."""
    if len(x) <= k:
        raise ValueError(f"need more than k={k} samples, got {len(x)}")
    radii = torch.empty(len(x), dtype=torch.float64)
    for rows in chunks(len(x), BLOCK):
        d = torch.cdist(x[rows], x)
        # The point itself is at distance ~0: the (k+1)-th smallest is the k-th neighbour.
        radii[rows] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def prdc(
    real_features: np.ndarray | torch.Tensor,
    fake_features: np.ndarray | torch.Tensor,
    k: int = DEFAULT_K,
) -> dict[str, float]:
    """{"precision", "recall", "density", "coverage"} between feature sets (N, D) and (M, D)."""
    real, fake = _as64(real_features), _as64(fake_features)
    real_r, fake_r = knn_radii(real, k), knn_radii(fake, k)
    in_real_balls = torch.zeros(len(fake), dtype=torch.float64)  # per fake: number of real balls
    real_in_fake = torch.zeros(len(real), dtype=torch.bool)  # per real: inside some fake ball
    covered = torch.zeros(len(real), dtype=torch.bool)  # per real: its ball holds a fake
    for rows in chunks(len(real), BLOCK):
        d = torch.cdist(real[rows], fake)  # (block of reals, fakes)
        inside_real = d < real_r[rows, None]
        in_real_balls += inside_real.sum(0)
        covered[rows] = inside_real.any(1)
        real_in_fake[rows] = (d < fake_r[None, :]).any(1)
    return {
        "precision": float((in_real_balls > 0).double().mean()),
        "recall": float(real_in_fake.double().mean()),
        "density": float(in_real_balls.mean() / k),
        "coverage": float(covered.double().mean()),
    }
