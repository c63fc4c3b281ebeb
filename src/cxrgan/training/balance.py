"""`--balance auto`: keep the G/D game balanced by adapting G's learning rate.

The signal is the gap between what D says about real and about fake images,
gap = D(x) − D(G(z)), smoothed with an exponential moving average over log records:
- gap above HIGH (D tells them apart with ease: the "D crushes G" state) → raise lr_G;
- gap below LOW while loss_D exceeds loss_G (D is losing) → lower lr_G.
Each change multiplies lr_G by FACTOR (or divides), at most once every COOLDOWN log records,
and lr_G stays within [base / MAX_SCALE, base × MAX_SCALE]. D's rate never changes, so the
G/D ratio moves like the blog's hand-tuning (2e-4 → 2e-3 → 1e-3 for G, D fixed at 2e-4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

HIGH = 0.6  # D(x) ≈ 0.8, D(G(z)) ≈ 0.2 or worse: D is winning comfortably
LOW = 0.1  # D can hardly tell real from fake...
ALPHA = 0.3  # EMA weight of the newest record (~3 records of memory)
FACTOR = 1.5
COOLDOWN = 3  # log records between changes, so the effect of one change shows first
MAX_SCALE = 10.0


@dataclass
class BalanceController:
    base_lr_g: float
    gap_ema: float | None = None
    since_change: int = 0

    def update(self, record: dict[str, Any], lr_g: float) -> tuple[float, str] | None:
        """A new lr_G and the reason, or None to leave it."""
        gap = record["d_x"] - record["d_g_z1"]
        if gap != gap:  # NaN: divergence is diagnose's business, not the controller's
            return None
        self.gap_ema = gap if self.gap_ema is None else ALPHA * gap + (1 - ALPHA) * self.gap_ema
        self.since_change += 1
        if self.since_change < COOLDOWN:
            return None
        lo, hi = self.base_lr_g / MAX_SCALE, self.base_lr_g * MAX_SCALE
        if self.gap_ema > HIGH and lr_g < hi:
            new, why = (
                min(lr_g * FACTOR, hi),
                f"D overpowers G (smoothed D(x)−D(G(z)) = {self.gap_ema:.2f} > {HIGH})",
            )
        elif self.gap_ema < LOW and record["loss_d"] > record["loss_g"] and lr_g > lo:
            new, why = (
                max(lr_g / FACTOR, lo),
                f"D too weak (smoothed D(x)−D(G(z)) = {self.gap_ema:.2f} < {LOW}, loss_D > loss_G)",
            )
        else:
            return None
        self.since_change = 0
        return new, why

    def state(self) -> dict[str, Any]:
        return asdict(self)
