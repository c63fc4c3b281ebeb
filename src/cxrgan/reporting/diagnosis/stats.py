"""The numbers the rules read, computed once per diagnosis: medians, trends and swings of the
window of training records (`WindowStats`), how long D has won outright in steps (`Wins`), the
FWD of the evaluation records against its real-vs-real floor (`FwdTrack`), and the evidence
dict that shows them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cxrgan.reporting.formatting import as_number
from cxrgan.reporting.run_records import best_evaluation, fwd_floor, selection_fwd
from cxrgan.reporting.thresholds import LossRanges, Thresholds


@dataclass
class WindowStats:
    """Numbers the rules use, computed once from the window."""

    n: int
    window: int
    step: float
    nonfinite: int
    first_nonfinite_step: float
    loss_d: float  # medians over "now" (the last part of the window)
    loss_g: float
    d_x: float
    d_g_z: float
    loss_d_before: float
    loss_g_before: float
    trend_d: float  # relative change now vs before
    trend_g: float
    latest_loss: float  # max over losses of the median of the last `latest` records
    growth: float  # max over losses of latest / before
    swing_d: float
    swing_g: float
    reversals_d: int
    reversals_g: int
    weak_fraction: float  # fraction of records with D(x) − D(G(z)) <= weak_separation
    lr_g: float
    lr_d: float
    lr_scale: float  # the schedule's factor on both rates, latest of all (NaN before it was logged)
    # ADA's augmentation probability (NaN / 0 records without --augment ada)
    p_records: int  # window records that carry a finite augment_p
    p_now: float  # median over "now"
    p_before: float  # median over "before"
    p_latest: float  # median of the last `latest` records
    p_high_share: float  # share of the window's p values >= ada_p_high
    r1_penalty: float  # recent medians of what regularisers and aux losses add (NaN: absent)
    loss_d_aux: float


def window_stats(
    train: list[Mapping[str, Any]], window: int, t: Thresholds, r: LossRanges
) -> WindowStats:
    """The statistics of the latest `window` training records (lr_g, lr_d: the latest of all)."""
    recent = train[-window:]
    n = len(recent)
    k = max(3, round(n * t.part))
    cols = {key: column(recent, key) for key in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")}
    d_g_z = cols["d_g_z1"] if np.isfinite(cols["d_g_z1"]).any() else cols["d_g_z2"]
    bad = np.zeros(n, dtype=bool)
    for key, col in cols.items():
        present = np.array([key in r for r in recent])
        bad |= present & ~np.isfinite(col)
    steps = column(recent, "step")
    now_d, now_g = median(cols["loss_d"][-k:]), median(cols["loss_g"][-k:])
    before_d, before_g = median(cols["loss_d"][:k]), median(cols["loss_g"][:k])
    separation = cols["d_x"] - d_g_z
    judged = np.isfinite(separation)
    # Magnitudes: a hinge loss_G is negative when G's images score above 0 (bce's are >= 0).
    latest_d = abs(median(cols["loss_d"][-t.latest :]))
    latest_g = abs(median(cols["loss_g"][-t.latest :]))
    swing_d, reversals_d = _swing(cols["loss_d"], t, r.swing_floor)
    swing_g, reversals_g = _swing(cols["loss_g"], t, r.swing_floor)
    return WindowStats(
        n=n,
        window=window,
        step=last_finite(steps),
        nonfinite=int(bad.sum()),
        first_nonfinite_step=float(steps[bad][0]) if bad.any() else float("nan"),
        loss_d=now_d,
        loss_g=now_g,
        d_x=median(cols["d_x"][-k:]),
        d_g_z=median(d_g_z[-k:]),
        loss_d_before=before_d,
        loss_g_before=before_g,
        trend_d=rel_change(before_d, now_d, t.trend_floor),
        trend_g=rel_change(before_g, now_g, t.trend_floor),
        latest_loss=max(nan_to(latest_d, 0.0), nan_to(latest_g, 0.0)),
        growth=max(_ratio(latest_d, abs(before_d)), _ratio(latest_g, abs(before_g))),
        swing_d=swing_d,
        swing_g=swing_g,
        reversals_d=reversals_d,
        reversals_g=reversals_g,
        weak_fraction=(
            float((separation[judged] <= t.weak_separation).mean()) if judged.any() else math.nan
        ),
        lr_g=last_finite(column(train, "lr_g")),
        lr_d=last_finite(column(train, "lr_d")),
        lr_scale=last_finite(column(train, "lr_scale")),
        **_ada_p(column(recent, "augment_p"), k, t),
        r1_penalty=median(column(recent, "r1_penalty")[-k:]),
        loss_d_aux=median(column(recent, "loss_d_aux")[-k:]),
    )


def _ada_p(p: np.ndarray, k: int, t: Thresholds) -> dict[str, Any]:
    """WindowStats' fields of ADA's p, from the window's `augment_p` column."""
    finite = p[np.isfinite(p)]
    return {
        "p_records": len(finite),
        "p_now": median(p[-k:]),
        "p_before": median(p[:k]),
        "p_latest": median(p[-t.latest :]),
        "p_high_share": float((finite >= t.ada_p_high).mean()) if len(finite) else math.nan,
    }


@dataclass(frozen=True)
class Wins:
    """How long D has won outright, in steps, counted back from the latest training record.

    A record covers the steps since the previous record (the first: since step 0), so the
    count is the same at any --log-every: it is the latest step minus the step of the latest
    record in which D did not win (or 0)."""

    latest_step: float
    outright: float  # steps with D(x) ≥ outright_d_x and D(G(z)) ≤ outright_d_g_z
    outright_records: int
    crush: float  # the same at the crush bounds
    crush_records: int

    @classmethod
    def none(cls) -> Wins:
        return cls(math.nan, 0.0, 0, 0.0, 0)

    @classmethod
    def of(cls, train: Sequence[Mapping[str, Any]], r: LossRanges) -> Wins:
        steps = column(train, "step")
        d_x = column(train, "d_x")
        d_g_z = column(train, "d_g_z1")
        if not np.isfinite(d_g_z).any():
            d_g_z = column(train, "d_g_z2")
        latest = last_finite(steps)
        outright, n_out = _won_steps(steps, (d_x >= r.outright_d_x) & (d_g_z <= r.outright_d_g_z))
        crush, n_crush = _won_steps(steps, (d_x >= r.crush_d_x) & (d_g_z <= r.crush_d_g_z))
        return cls(latest, outright, n_out, crush, n_crush)


def _won_steps(steps: np.ndarray, won: np.ndarray) -> tuple[float, int]:
    """(Steps covered by the trailing run of records where `won`, how many records)."""
    k = len(won)
    while k > 0 and won[k - 1]:
        k -= 1
    records = len(won) - k
    if not records or not np.isfinite(steps[-1]):
        return 0.0, 0
    since = float(steps[k - 1]) if k > 0 else 0.0
    return (float(steps[-1]) - since if math.isfinite(since) else 0.0), records


@dataclass(frozen=True)
class FwdTrack:
    """The evaluation records' FWD, and the real-vs-real floor they were measured against."""

    values: np.ndarray  # finite selection FWD values (`selection_fwd`), in step order
    floor: float  # the real-vs-real floor they compare against (NaN: none recorded)
    floor_n: float  # images per side of that floor
    worst_class: bool = False  # a conditional run's worst class's FWD, against that class's floor
    best_step: float = math.nan  # the step of the best evaluation (where `best` was saved)
    # KID of the same images at the best and at the latest evaluation: the overall KID, or
    # that of the class worst at the latest (NaN: not recorded); kid_of names it
    kid_at_best: float = math.nan
    kid_latest: float = math.nan
    kid_of: str = "KID"

    @classmethod
    def of(cls, quality: Sequence[Mapping[str, Any]]) -> FwdTrack:
        """The FWD that `best` follows: a conditional run's worst class's (read against that
        class's own floor, which is higher than the floor of all classes at a larger n)."""
        evals = [r for r in quality if isinstance(r, Mapping)]
        fwd = np.array([as_number(selection_fwd(r)) for r in evals], dtype=np.float64)
        best = best_evaluation(evals)
        step = as_number(best.get("step")) if best is not None else math.nan
        kid = _kid_track(evals, best)
        if best is not None and "fwd_worst_class" in best:
            floor, n = _worst_class_floor(best)
            return cls(fwd[np.isfinite(fwd)], floor, n, worst_class=True, best_step=step, **kid)
        floor, n_all = fwd_floor(evals)
        n = math.nan if n_all is None else float(n_all)
        return cls(fwd[np.isfinite(fwd)], floor, n, best_step=step, **kid)

    def kid_disagrees(self, share: float) -> bool:
        """KID at the latest evaluation is at most `share` of KID at the best: the generator
        got closer to the data by KID while its FWD got worse."""
        best, latest = self.kid_at_best, self.kid_latest
        return math.isfinite(best) and math.isfinite(latest) and best > 0 and latest <= share * best

    @property
    def name(self) -> str:
        """What `values` are: 'FWD', or "worst class's FWD"."""
        return "worst class's FWD" if self.worst_class else "FWD"

    @property
    def noun_at_start(self) -> str:
        """The name at the start of a sentence: 'FWD', 'The worst class's FWD'."""
        return f"The {self.name}" if self.worst_class else self.name

    @property
    def noun(self) -> str:
        """The name inside a sentence: 'FWD', 'the worst class's FWD'."""
        return f"the {self.name}" if self.worst_class else self.name

    @property
    def floor_name(self) -> str:
        """'the real-vs-real floor', or 'its class's real-vs-real floor' for the worst class."""
        return "its class's real-vs-real floor" if self.worst_class else "the real-vs-real floor"

    @property
    def latest(self) -> float:
        return float(self.values[-1]) if len(self.values) else math.nan

    @property
    def best(self) -> float:
        return float(self.values.min()) if len(self.values) else math.nan

    @property
    def ratio(self) -> float:
        """Best FWD over the floor (NaN without either)."""
        return self.best / self.floor if math.isfinite(self.floor) else math.nan

    def worse_since_best(self, margin: float) -> int:
        """How many of the latest evaluations in a row are more than `margin` (relative) above
        the best."""
        count = 0
        for value in self.values[::-1]:
            if value < self.best * (1 + margin):
                break
            count += 1
        return count


def _kid_track(
    evals: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None
) -> dict[str, Any]:
    """FwdTrack's KID fields: at the best and the latest evaluation, of a conditional run's
    class whose FWD is worst at the latest evaluation, else the overall KID."""
    if best is None or not evals:
        return {}
    latest = evals[-1]
    name = _worst_class(latest) if "fwd_worst_class" in latest else None
    if name is None:
        at_best, now = as_number(best.get("kid_mean")), as_number(latest.get("kid_mean"))
        return {"kid_at_best": at_best, "kid_latest": now}

    def kid_of(record: Mapping[str, Any]) -> float:
        entry = (record.get("per_class") or {}).get(name)
        return as_number(entry.get("kid_mean")) if isinstance(entry, Mapping) else math.nan

    return {"kid_at_best": kid_of(best), "kid_latest": kid_of(latest), "kid_of": f"{name}'s KID"}


def _worst_class(record: Mapping[str, Any]) -> str | None:
    """The name of the class whose FWD is worst in `record` (None without per-class records)."""
    per_class = {k: c for k, c in (record.get("per_class") or {}).items() if isinstance(c, Mapping)}

    def fwd_of(name: str) -> float:
        value = as_number(per_class[name].get("fwd"))
        return value if math.isfinite(value) else -math.inf

    return max(per_class, key=fwd_of, default=None)


def _worst_class_floor(record: Mapping[str, Any]) -> tuple[float, float]:
    """(Real-vs-real floor, n per side) of the class whose FWD is worst in `record`."""
    name = _worst_class(record)
    if name is None:
        return math.nan, math.nan
    worst = record["per_class"][name]
    floor = as_number(worst.get("fwd_floor"))
    floor = floor if math.isfinite(floor) and floor > 0 else math.nan
    n = as_number(worst.get("n"))
    return floor, n if math.isfinite(floor) else math.nan


def evidence(
    s: WindowStats, wins: Wins, diversity: float | None, reference: float | None, fwd: FwdTrack
) -> dict[str, float]:
    """The numbers behind a diagnosis, by name (what `Diagnosis.evidence` holds)."""
    ev = {
        "records": float(s.n),
        "step": s.step,
        "won_steps": wins.outright,
        "crushed_steps": wins.crush,
        "loss_d": s.loss_d,
        "loss_g": s.loss_g,
        "d_x": s.d_x,
        "d_g_z": s.d_g_z,
        "loss_d_trend": s.trend_d,
        "loss_g_trend": s.trend_g,
        "swing_d": s.swing_d,
        "swing_g": s.swing_g,
        "reversals_d": float(s.reversals_d),
        "reversals_g": float(s.reversals_g),
        "weak_fraction": s.weak_fraction,
        "nonfinite": float(s.nonfinite),
        "lr_g": s.lr_g,
        "lr_d": s.lr_d,
    }
    if s.p_records:
        ev["augment_p"] = s.p_now
        ev["augment_p_latest"] = s.p_latest
        ev["augment_p_before"] = s.p_before
        ev["augment_p_high_share"] = s.p_high_share
    if math.isfinite(s.r1_penalty):
        ev["r1_penalty"] = s.r1_penalty
    if math.isfinite(s.loss_d_aux):
        ev["loss_d_aux"] = s.loss_d_aux
    if diversity is not None:
        ev["diversity"] = float(diversity)
    if reference is not None:
        ev["real_diversity"] = float(reference)
    if len(fwd.values):
        ev["fwd_latest"] = fwd.latest
        ev["fwd_best"] = fwd.best
    if math.isfinite(fwd.floor):
        ev["fwd_floor"] = fwd.floor
        ev["fwd_floor_n"] = fwd.floor_n
    if math.isfinite(fwd.ratio):
        ev["fwd_floor_ratio"] = fwd.ratio
    return ev


# ------------------------------------------------------------------------------------------------
# Robust statistics of one column


def column(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([as_number(r.get(key)) for r in records], dtype=np.float64)


def median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else math.nan


def last_finite(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    return float(finite[-1]) if len(finite) else math.nan


def rel_change(before: float, now: float, floor: float) -> float:
    """(now − before) / max(|before|, floor); NaN unless both are finite."""
    if not (math.isfinite(before) and math.isfinite(now)):
        return math.nan
    return (now - before) / max(abs(before), floor)


def nan_to(x: float, default: float) -> float:
    return x if math.isfinite(x) else default


def _ratio(now: float, before: float) -> float:
    if not (math.isfinite(before) and math.isfinite(now)) or before <= 0:
        return 0.0
    return now / before


def _swing(loss: np.ndarray, t: Thresholds, floor: float) -> tuple[float, int]:
    """(robust spread of the rolling-median loss around its trend, relative to its level;
    number of direction reversals of that residual).

    Robust on purpose: a Theil-Sen line and a MAD scale ignore the first-epoch transient and
    the odd spike, while a sustained swing moves most residuals and so the MAD.
    """
    y = loss[np.isfinite(loss)]
    if len(y) < 2 * t.smooth:
        return math.nan, 0
    smooth = np.median(sliding_window_view(y, t.smooth), axis=1)
    x = np.arange(len(smooth), dtype=np.float64)
    i, j = np.triu_indices(len(smooth), k=1)
    slope = float(np.median((smooth[j] - smooth[i]) / (x[j] - x[i])))
    residual = smooth - slope * x
    residual -= np.median(residual)
    scale = 1.4826 * float(np.median(np.abs(residual)))  # = std for Gaussian noise
    band = 0.5 * scale
    reversals, side = 0, 0
    for r in residual:
        now = 1 if r > band else -1 if r < -band else 0
        if now and now != side:
            reversals += side != 0
            side = now
    return scale / max(float(np.median(np.abs(y))), floor), reversals
