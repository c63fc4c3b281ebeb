"""DiffAugment (Zhao et al. 2020) for gray chest X-rays, and the transforms it shares with ADA.

Every image D sees (real and generated) is transformed with probability 1, each image with its
own random parameters; the transforms are differentiable in the image, so G learns through them.

Gray images only, so of DiffAugment's policies `color` becomes `brightness` and `contrast` (no
saturation, no hue), and there is never a horizontal flip (`--hflip` is the sampler's business,
not D's). Each transform keeps the image size and the pixel range [-1, 1]:

- translation: an integer shift of up to ±ratio × size in each direction, per image. Pixels that
  enter from outside take the `fill` value, -1 by default: black, like the borders of an X-ray.
  (The original pads with 0, which in [-1, 1] is mid-gray.)
- cutout: a square of side ratio × size, its centre anywhere in the image (so it may be cut by
  the border), set to `fill`.
- brightness: a per-image offset uniform in [-b, b] (b = 0.5, as the original's `rand - 0.5`),
  then clamped to [-1, 1].
- contrast: scaled around the per-image mean by a factor uniform in [1 - c, 1 + c] (c = 0.5, the
  original's [0.5, 1.5]), then clamped.

Random draws come from torch's global generator on the image's device (checkpoints save it, so a
resumed run draws the same augmentations); nothing here calls `.cuda()`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cxrgan.augment.base import Augmentation
from cxrgan.errors import CxrganError

DIFF_POLICIES = ("translation", "cutout", "brightness", "contrast")


def parse_names(names: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A comma list ("translation, cutout") as a tuple of known names; a one-line error if not."""
    parsed = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = [n for n in parsed if n not in known]
    if unknown or not parsed:
        raise CxrganError(
            f"unknown {what} {', '.join(unknown) or repr(names)}; known: {', '.join(known)}"
        )
    return parsed


# --- the transforms, given their per-image parameters -------------------------------------------
def translate(x: Tensor, dy: Tensor, dx: Tensor, fill: float) -> Tensor:
    """Each image shifted by its own integer (dy, dx) (shape (N,) each: down, right); the pixels
    that come in from outside are `fill`."""
    n, c, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy.view(n, 1, 1)  # source row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx.view(n, 1, 1)  # source column
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (N, H, W)
    index = rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)
    moved = x.reshape(n, c, h * w).gather(2, index.view(n, 1, h * w).expand(n, c, h * w))
    return moved.view(n, c, h, w).masked_fill(~inside.unsqueeze(1), fill)


def cut_out(x: Tensor, cy: Tensor, cx: Tensor, size: tuple[int, int], fill: float) -> Tensor:
    """Each image with the size[0] × size[1] rectangle centred on its own (cy, cx) set to `fill`."""
    _, _, h, w = x.shape
    top = cy.view(-1, 1) - size[0] // 2
    left = cx.view(-1, 1) - size[1] // 2
    rows = torch.arange(h, device=x.device).view(1, h)
    cols = torch.arange(w, device=x.device).view(1, w)
    in_rows = (rows >= top) & (rows < top + size[0])  # (N, H)
    in_cols = (cols >= left) & (cols < left + size[1])  # (N, W)
    return x.masked_fill((in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1), fill)


def shift_brightness(x: Tensor, offset: Tensor) -> Tensor:
    """x + offset, one offset per image, clamped to [-1, 1]."""
    return (x + offset.view(-1, 1, 1, 1)).clamp(-1, 1)


def scale_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Each image scaled around its own mean by its own factor (> 0), clamped to [-1, 1]."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * factor.view(-1, 1, 1, 1) + mean).clamp(-1, 1)


def warp(x: Tensor, theta: Tensor, fill: float) -> Tensor:
    """Each image resampled (bilinear) through its own 2×3 affine `theta` (output → input, in
    affine_grid's normalised coordinates); what comes from outside the image is `fill`."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    # grid_sample pads with zeros: shift so that zero is the fill value. Bilinear weights make
    # convex combinations, so the range holds; the clamp only removes rounding.
    out = F.grid_sample(x - fill, grid, "bilinear", "zeros", align_corners=False) + fill
    return out.clamp(-1, 1)


def side(size: int, ratio: float) -> int:
    """ratio × size rounded to whole pixels, as DiffAugment does."""
    return int(size * ratio + 0.5)


# --- the module ----------------------------------------------------------------------------------
class DiffAugment(Augmentation):
    """Every transform in `policy` (a comma list of translation, cutout, brightness, contrast,
    applied in that list's order) applied to every image, each with its own parameters."""

    def __init__(
        self,
        policy: str = "translation,cutout",
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
        brightness: float = 0.5,
        contrast: float = 0.5,
        fill: float = -1.0,
    ):
        super().__init__()
        self.policy = parse_names(policy, DIFF_POLICIES, "DiffAugment policy")
        if not (0 <= contrast < 1 and brightness >= 0 and -1 <= fill <= 1):
            raise CxrganError("DiffAugment needs 0 <= contrast < 1, brightness >= 0, |fill| <= 1")
        self.translation_ratio, self.cutout_ratio = translation_ratio, cutout_ratio
        self.brightness, self.contrast, self.fill = brightness, contrast, fill

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)}, fill={self.fill}"

    def forward(self, x: Tensor) -> Tensor:
        for name in self.policy:
            x = getattr(self, f"_{name}")(x)
        return x

    def _translation(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        sy, sx = side(h, self.translation_ratio), side(w, self.translation_ratio)
        dy = self.randint(-sy, sy + 1, x)
        dx = self.randint(-sx, sx + 1, x)
        return translate(x, dy, dx, self.fill)

    def _cutout(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        size = (side(h, self.cutout_ratio), side(w, self.cutout_ratio))
        # As the original: the centre may sit on any pixel (one more for an even side).
        cy = self.randint(0, h + (1 - size[0] % 2), x)
        cx = self.randint(0, w + (1 - size[1] % 2), x)
        return cut_out(x, cy, cx, size, self.fill)

    def _brightness(self, x: Tensor) -> Tensor:
        u = self.rand(x, x.dtype)
        return shift_brightness(x, (2 * u - 1) * self.brightness)

    def _contrast(self, x: Tensor) -> Tensor:
        u = self.rand(x, x.dtype)
        return scale_contrast(x, 1 + (2 * u - 1) * self.contrast)
