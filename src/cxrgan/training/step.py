"""One DCGAN optimisation step, the tutorial's maths with fewer syncs and copies."""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Order of the per-step statistics accumulated in StepStats.sums.
STAT_KEYS = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")


class StepStats:
    """Sums of the per-step statistics, kept on the device so logging costs one sync."""

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(len(STAT_KEYS), device=device, dtype=torch.float64)
        self.count = 0

    def add(self, values: Tensor) -> None:
        self.sums += values.detach().double()
        self.count += 1

    def pop_means(self) -> dict[str, float]:
        means = (self.sums / max(self.count, 1)).tolist()
        self.sums.zero_()
        self.count = 0
        return dict(zip(STAT_KEYS, means, strict=True))


def bce(p: Tensor, real: bool) -> Tensor:
    """nn.BCELoss against an all-1 (real) or all-0 (fake) target, log clamped at -100 like it.

    Written out because BCELoss raises on NaN input, and a diverging run must log its NaNs
    and stop cleanly rather than crash.
    """
    return -torch.clamp(torch.log(p if real else 1 - p), min=-100).mean()


class GanStep:
    """Alternating D then G update with BCE, label 1 for real and 0 for fake (the tutorial's)."""

    def __init__(
        self,
        g: nn.Module,
        d: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        nz: int,
    ):
        self.g, self.d, self.opt_g, self.opt_d, self.nz = g, d, opt_g, opt_d, nz

    def __call__(self, real: Tensor, noise_gen: torch.Generator) -> Tensor:
        """Run one step on a batch of real images; returns the 5 statistics as one tensor."""
        b = real.shape[0]

        # (1) D: maximise log D(x) + log(1 - D(G(z))).
        self.d.zero_grad(set_to_none=True)
        out_real = self.d(real).view(-1)
        err_real = bce(out_real, real=True)
        err_real.backward()
        noise = torch.randn(b, self.nz, 1, 1, device=real.device, generator=noise_gen)
        fake = self.g(noise)
        out_fake = self.d(fake.detach()).view(-1)
        err_fake = bce(out_fake, real=False)
        err_fake.backward()
        self.opt_d.step()

        # (2) G: maximise log D(G(z)). D's weight gradients here would be discarded by the
        # next zero_grad, so we skip computing them; G's gradients are unchanged.
        self.g.zero_grad(set_to_none=True)
        self.d.requires_grad_(False)
        try:
            out = self.d(fake).view(-1)
            err_g = bce(out, real=True)
            err_g.backward()
        finally:
            self.d.requires_grad_(True)
        self.opt_g.step()

        return torch.stack(
            [err_real + err_fake, err_g, out_real.mean(), out_fake.mean(), out.mean()]
        ).detach()
