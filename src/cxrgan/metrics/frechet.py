"""Fréchet distance between Gaussians, batched and robust to near-singular covariances.

d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)

The usual code takes scipy's `sqrtm(S1 @ S2)`, which turns complex and fails when the product is
near-singular (few samples, or features that are constant, e.g. replicated RGB channels). Here
tr((S1 S2)^½) = tr((A S2 A)^½) with A = S1^½: A S2 A is symmetric positive semi-definite, so
its square root is real and only needs its eigenvalues (clipped at 0). Everything is float64.
"""

from __future__ import annotations

import numpy as np
import torch

Matrix = np.ndarray | torch.Tensor


def _as64(x: Matrix) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    return t.detach().cpu().to(torch.float64)


def _symmetric(m: torch.Tensor) -> torch.Tensor:
    return (m + m.transpose(-1, -2)) / 2


def _eigvalsh(m: torch.Tensor, eps: float) -> torch.Tensor:
    """Eigenvalues of symmetric `m`; on a LAPACK failure retry with eps*I added."""
    try:
        return torch.linalg.eigvalsh(m)
    except torch.linalg.LinAlgError:
        eye = torch.eye(m.shape[-1], dtype=m.dtype)
        return torch.linalg.eigvalsh(m + eps * eye)


def psd_sqrt(sigma: Matrix, eps: float = 1e-6) -> torch.Tensor:
    """Symmetric square root of (a batch of) PSD matrices; negative eigenvalues count as 0."""
    s = _symmetric(_as64(sigma))
    try:
        vals, vecs = torch.linalg.eigh(s)
    except torch.linalg.LinAlgError:
        vals, vecs = torch.linalg.eigh(s + eps * torch.eye(s.shape[-1], dtype=s.dtype))
    return (vecs * vals.clamp(min=0).sqrt().unsqueeze(-2)) @ vecs.transpose(-1, -2)


def trace_sqrt_product(
    sqrt_sigma1: torch.Tensor, sigma2: Matrix, eps: float = 1e-6
) -> torch.Tensor:
    """tr((S1 S2)^½) given S1^½; batched over leading dimensions."""
    inner = _symmetric(sqrt_sigma1 @ _as64(sigma2) @ sqrt_sigma1)
    vals = _eigvalsh(inner, eps)
    if not torch.isfinite(vals).all():  # e.g. inf/nan entries: regularise both sides once
        eye = torch.eye(inner.shape[-1], dtype=inner.dtype)
        vals = _eigvalsh(inner + eps * eye, eps).nan_to_num(0.0)
    return vals.clamp(min=0).sqrt().sum(-1)


def frechet_distances(
    mu1: Matrix,
    sigma1: Matrix,
    mu2: Matrix,
    sigma2: Matrix,
    *,
    sqrt_sigma1: torch.Tensor | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Fréchet distance for each of a batch of Gaussian pairs: mu (..., D), sigma (..., D, D).

    Pass `sqrt_sigma1` (from `psd_sqrt(sigma1)`) to reuse it across many comparisons.
    Tiny negative results (rounding, for identical inputs) are clipped to 0.
    """
    m1, m2, s1, s2 = _as64(mu1), _as64(mu2), _as64(sigma1), _as64(sigma2)
    if m1.shape != m2.shape or s1.shape != s2.shape:
        raise ValueError(
            f"shape mismatch: mu {m1.shape} vs {m2.shape}, sigma {s1.shape} vs {s2.shape}"
        )
    root = psd_sqrt(s1, eps) if sqrt_sigma1 is None else sqrt_sigma1
    diff = ((m1 - m2) ** 2).sum(-1)
    traces = s1.diagonal(dim1=-2, dim2=-1).sum(-1) + s2.diagonal(dim1=-2, dim2=-1).sum(-1)
    return (diff + traces - 2 * trace_sqrt_product(root, s2, eps)).clamp(min=0)


def frechet_distance(
    mu1: Matrix, sigma1: Matrix, mu2: Matrix, sigma2: Matrix, eps: float = 1e-6
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as a float."""
    return float(frechet_distances(mu1, sigma1, mu2, sigma2, eps=eps))
