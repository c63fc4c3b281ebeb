"""The hinge loss of SNGAN (Miyato et al. 2018) and BigGAN: D pushes real logits above +1 and
generated ones below -1, and stops caring beyond those margins; G raises D's logits on its images.

    D: mean(relu(1 − D(x))) + mean(relu(1 + D(G(z))))      G: −mean(D(G(z)))

The logits are unbounded scores, not log-odds; `d_x` and `d_g_z` in the statistics are still
their sigmoid, as for every loss, and a healthy D sits near ±1 (sigmoid ≈ 0.73 / 0.27), not at 0/1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cxrgan.losses.base import GanLoss


class HingeLoss(GanLoss):
    def d_real_loss(self, logits: Tensor) -> Tensor:
        return torch.relu(1 - logits).mean()

    def d_fake_loss(self, logits: Tensor) -> Tensor:
        return torch.relu(1 + logits).mean()

    def g_loss(self, logits: Tensor) -> Tensor:
        return -logits.mean()
