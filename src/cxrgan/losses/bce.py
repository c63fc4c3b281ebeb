"""The DCGAN tutorial's loss: BCE with label 1 for real and 0 for fake, and G trained with
label 1 (the non-saturating −log D(G(z))). Written on logits: the same maths as the
tutorial's Sigmoid + nn.BCELoss, numerically safer, and NaN passes through to the
divergence check instead of raising."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from cxrgan.losses.base import GanLoss


class BCELoss(GanLoss):
    def d_real_loss(self, logits: Tensor) -> Tensor:
        return F.softplus(-logits).mean()  # −log σ(l)

    def d_fake_loss(self, logits: Tensor) -> Tensor:
        return F.softplus(logits).mean()  # −log(1 − σ(l))

    def g_loss(self, logits: Tensor) -> Tensor:
        return F.softplus(-logits).mean()
