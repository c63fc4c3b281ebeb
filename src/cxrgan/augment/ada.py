"""Adaptive discriminator augmentation (Karras et al. 2020, StyleGAN2-ADA), simplified for gray
X-rays: each transform is applied to each image independently with probability p, and p follows
how much D overfits.

The overfitting signal is r_t = E[sign(D(x_real))] over the real images D saw in the last
`interval` steps (given to `observe` by the loss's `run_D_real`). A D that has memorised its
training images calls them real with confidence, so r_t rises towards 1; a D that cannot tell
real from generated sits near 0. Every `interval` observations

    p ← clamp(p + sign(r_t − target) · n / (kimg · 1000), 0, max_p)

where n is the number of real images observed in that interval: p can go from 0 to 1 in `kimg`
thousand images. p starts at 0, so the augmentation stays off until D overfits.

With `target=None`, p stays where it starts and `observe` keeps nothing: the form that
differentially private training uses (--dp-ada-p, docs/privacy.md), since r_t is a statistic of
real images that DP-SGD does not privatise.

p, the running sums and the last r_t are buffers: checkpoints save them and a resumed run
continues the same adaptation. Everything is tensor arithmetic on the buffers' device, with no
host synchronisation per step; read `p` and `rt` (Python floats) only when logging. Under
torch.distributed, each rank's observations are summed over all ranks, so p stays the same on
every rank.

Transforms (choose with `transforms`, a comma list; they always run in this order, geometric,
then intensity, then cutout, as in StyleGAN2-ADA):
- translation: integer shift of up to ±translation_ratio × size, pixels from outside = `fill`;
- scale (optional): isotropic zoom by 2^N(0, scale_std);
- rotate (optional): a small rotation, uniform in ±rotate_max degrees;
  scale and rotate share one bilinear resampling, with `fill` outside the image;
- brightness: a per-image offset N(0, brightness_std), clamped to [-1, 1];
- contrast: scaling around the per-image mean by 2^N(0, contrast_std), clamped;
- cutout: a square of side cutout_ratio × size set to `fill`.
Never a horizontal flip; `fill` is -1 (black) by default, as in DiffAugment here (see diffaug.py).
Every random parameter is drawn for every image whatever p is, from torch's global generator, so
the random stream does not depend on p and p = 0 is exactly the identity.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cxrgan.augment.base import Augmentation
from cxrgan.augment.diffaug import (
    cut_out,
    parse_names,
    scale_contrast,
    shift_brightness,
    side,
    translate,
    warp,
)
from cxrgan.errors import CxrganError

ADA_TRANSFORMS = ("translation", "scale", "rotate", "brightness", "contrast", "cutout")
DEFAULT_TRANSFORMS = "translation,brightness,contrast,cutout"


class ADA(Augmentation):
    def __init__(
        self,
        target: float | None = 0.6,
        interval: int = 4,
        kimg: float = 100.0,
        transforms: str = DEFAULT_TRANSFORMS,
        p: float = 0.0,
        max_p: float = 0.99,
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
        brightness_std: float = 0.2,
        contrast_std: float = 0.5,
        scale_std: float = 0.2,
        rotate_max: float = 10.0,
        fill: float = -1.0,
    ):
        """target: the r_t that p steers to, or None for a fixed p (no adaptation);
        interval: observations (D steps) between adjustments; kimg: thousands of images for p
        to move by 1; p: the starting probability; max_p (< 1): p's ceiling, so that some images
        always reach D untransformed."""
        super().__init__()
        self.transforms = parse_names(transforms, ADA_TRANSFORMS, "ADA transform")
        if target is not None and not 0 <= target <= 1:
            raise CxrganError(f"ADA target must be in [0, 1], not {target}")
        if interval < 1 or kimg <= 0 or not 0 < max_p <= 1 or not 0 <= p <= 1:
            raise CxrganError("ADA needs interval >= 1, kimg > 0, 0 < max_p <= 1, 0 <= p <= 1")
        self.target, self.interval, self.kimg, self.max_p = target, interval, kimg, max_p
        self.translation_ratio, self.cutout_ratio = translation_ratio, cutout_ratio
        self.brightness_std, self.contrast_std = brightness_std, contrast_std
        self.scale_std, self.rotate_max, self.fill = scale_std, rotate_max, fill
        # float32, not float64: MPS has no float64.
        self.register_buffer("prob", torch.tensor(float(p)))
        self.register_buffer("sign_sum", torch.tensor(0.0))  # Σ sign(D(real)) in this interval
        self.register_buffer("count", torch.tensor(0.0))  # real images in this interval
        self.register_buffer("observations", torch.tensor(0, dtype=torch.long))
        self.register_buffer("last_rt", torch.tensor(0.0))  # r_t of the last adjustment

    @property
    def p(self) -> float:
        """The current probability, for logging (a host synchronisation)."""
        return float(self.prob)

    @property
    def rt(self) -> float:
        """r_t = E[sign(D(real))] at the last adjustment, for logging (0 before the first)."""
        return float(self.last_rt)

    def extra_repr(self) -> str:
        return (
            f"transforms={','.join(self.transforms)}, target={self.target}, "
            f"interval={self.interval}, kimg={self.kimg}, fill={self.fill}"
        )

    # --- adaptation -----------------------------------------------------------------------------
    @torch.no_grad()
    def observe(self, real_logits: Tensor) -> None:
        """Called by the loss with D's logits on a real batch (GanLoss.run_D_real)."""
        if self.target is None:  # a fixed p keeps nothing of the real images (DP: docs/privacy.md)
            return
        signs = real_logits.detach().float().sign()
        n = torch.full((), float(signs.numel()), device=signs.device)  # a fill, not a host copy
        batch = torch.stack([signs.sum(), n])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(batch)  # every rank calls observe once per D step
        batch = batch.to(self.sign_sum.device)
        self.sign_sum += batch[0]
        self.count += batch[1]
        self.observations += 1
        # Branch-free, so no host synchronisation: the adjustment is computed every call and
        # kept only when the interval is complete.
        due = self.observations % self.interval == 0
        rt = self.sign_sum / self.count.clamp(min=1)
        adjust = torch.sign(rt - self.target) * self.count / (self.kimg * 1000)
        self.prob.copy_(torch.where(due, (self.prob + adjust).clamp(0, self.max_p), self.prob))
        self.last_rt.copy_(torch.where(due, rt, self.last_rt))
        keep = (~due).float()
        self.sign_sum.mul_(keep)
        self.count.mul_(keep)

    # --- augmentation ---------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        if "translation" in self.transforms:
            x = self._translation(x)
        if "scale" in self.transforms or "rotate" in self.transforms:
            x = self._warp(x)
        for name in ("brightness", "contrast", "cutout"):
            if name in self.transforms:
                x = getattr(self, f"_{name}")(x)
        return x

    def _chosen(self, x: Tensor) -> Tensor:
        """Which images get the transform: each with probability p, shape (N,)."""
        return self.rand(x) < self.prob

    @staticmethod
    def _where(chosen: Tensor, new: Tensor, old: Tensor) -> Tensor:
        return torch.where(chosen.view(-1, 1, 1, 1), new, old)

    def _translation(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        chosen = self._chosen(x)
        sy, sx = side(h, self.translation_ratio), side(w, self.translation_ratio)
        dy = self.randint(-sy, sy + 1, x)
        dx = self.randint(-sx, sx + 1, x)
        return translate(x, dy * chosen, dx * chosen, self.fill)  # a zero shift is the identity

    def _warp(self, x: Tensor) -> Tensor:
        n = len(x)
        zoom = torch.ones(n, device=x.device)
        angle = torch.zeros(n, device=x.device)
        chosen = torch.zeros(n, dtype=torch.bool, device=x.device)
        if "scale" in self.transforms:
            scaled = self._chosen(x)
            s = torch.exp2(self.randn(x) * self.scale_std)
            zoom, chosen = torch.where(scaled, s, zoom), chosen | scaled
        if "rotate" in self.transforms:
            rotated = self._chosen(x)
            a = (2 * self.rand(x) - 1) * math.radians(self.rotate_max)
            angle, chosen = torch.where(rotated, a, angle), chosen | rotated
        # Output → input coordinates: zooming in by s reads the input at 1/s of the distance.
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        zero = torch.zeros_like(cos)
        theta = torch.stack([cos, -sin, zero, sin, cos, zero], dim=1).view(n, 2, 3)
        return self._where(chosen, warp(x, theta, self.fill), x)

    def _brightness(self, x: Tensor) -> Tensor:
        chosen = self._chosen(x)
        offset = self.randn(x, x.dtype) * self.brightness_std
        return self._where(chosen, shift_brightness(x, offset), x)

    def _contrast(self, x: Tensor) -> Tensor:
        chosen = self._chosen(x)
        factor = torch.exp2(self.randn(x, x.dtype) * self.contrast_std)
        return self._where(chosen, scale_contrast(x, factor), x)

    def _cutout(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        chosen = self._chosen(x)
        size = (side(h, self.cutout_ratio), side(w, self.cutout_ratio))
        cy = self.randint(0, h + (1 - size[0] % 2), x)
        cx = self.randint(0, w + (1 - size[1] % 2), x)
        return self._where(chosen, cut_out(x, cy, cx, size, self.fill), x)
