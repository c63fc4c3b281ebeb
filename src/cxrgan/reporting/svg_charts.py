"""Line charts as inline SVG (axes, ticks, reference lines, legend), and the series helpers
that feed them: metric columns, smoothing and min/max decimation of long series."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxrgan.reporting.formatting import as_number, fmt_lr, fmt_value
from cxrgan.reporting.html_page import e

CHART_POINTS = 1200  # longer series are reduced to per-bucket min/max (spikes survive)
C_REF = "#868e96"


@dataclass
class Series:
    """One line of a chart."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    width: float = 2.0
    opacity: float = 1.0
    dash: str = ""
    legend: bool = True
    markers: bool = False


@dataclass
class VLine:
    """A labelled vertical marker at step `x`."""

    x: float
    label: str
    color: str = C_REF


W, H = 600, 250
PAD_L, PAD_R, PAD_T, PAD_B = 52, 14, 12, 34


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks


def _tick_label(v: float) -> str:
    if abs(v) >= 10000:
        return f"{v / 1000:g}k"
    if v != 0 and abs(v) < 0.01:
        return fmt_lr(v)
    return f"{v:g}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str = "step",
    y_range: tuple[float | None, float | None] = (None, None),
    hlines: Sequence[tuple[float, str]] = (),
    vlines: Sequence[VLine] = (),
    note: str = "",
) -> str:
    """A line chart as a <figure> holding an HTML legend and an inline SVG."""
    live = [s for s in series if np.isfinite(s.y).any()]
    if not live:
        return ""
    xs = np.concatenate([s.x[np.isfinite(s.x)] for s in live])
    x0, x1 = float(xs.min()), float(xs.max())
    if x1 <= x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = _y_range(live, y_range)

    def px(x: np.ndarray) -> np.ndarray:
        return PAD_L + (x - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

    def py(y: np.ndarray) -> np.ndarray:
        return PAD_T + (1 - (np.clip(y, y0, y1) - y0) / (y1 - y0)) * (H - PAD_T - PAD_B)

    parts = [_axes(x0, x1, y0, y1, px, py, x_label)]
    for value, label in hlines:
        if y0 <= value <= y1:
            yy = float(py(np.array([value]))[0])
            parts.append(
                f'<line class="ref" x1="{PAD_L}" x2="{W - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
                f'<text class="reflabel" x="{W - PAD_R - 4}" y="{yy - 4:.1f}" '
                f'text-anchor="end">{e(label)}</text>'
            )
    for v in vlines:
        if x0 <= v.x <= x1:
            xx = float(px(np.array([v.x]))[0])
            parts.append(
                f'<line class="vref" stroke="{e(v.color)}" x1="{xx:.1f}" x2="{xx:.1f}" '
                f'y1="{PAD_T}" y2="{H - PAD_B}"><title>{e(v.label)}</title></line>'
                f'<text class="vlabel" fill="{e(v.color)}" x="{xx + 3:.1f}" y="{PAD_T + 10}">'
                f"{e(v.label)}</text>"
            )
    for s in live:
        parts.append(_polyline(s, px, py))
    legend = "".join(
        f'<span><i style="background:{e(s.color)}"></i>{e(s.label)}</span>'
        for s in live
        if s.legend
    )
    note_html = f'<div class="chartnote">{e(note)}</div>' if note else ""
    return (
        f'<figure class="chart"><figcaption>{e(title)}</figcaption>'
        f'<div class="legend">{legend}</div>'
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{e(title)}">{"".join(parts)}</svg>'
        f"{note_html}</figure>"
    )


def _y_range(
    live: Sequence[Series], fixed: tuple[float | None, float | None]
) -> tuple[float, float]:
    """Fit the bold lines; faint raw lines are clipped at their 99th percentile (GAN spikes)."""
    tops, bottoms = [], []
    for s in live:
        y = s.y[np.isfinite(s.y)]
        tops.append(float(np.percentile(y, 99)) if s.opacity < 1 else float(y.max()))
        bottoms.append(float(np.percentile(y, 1)) if s.opacity < 1 else float(y.min()))
    lo = fixed[0] if fixed[0] is not None else min(bottoms)
    hi = fixed[1] if fixed[1] is not None else max(tops)
    if fixed[1] is None:
        hi += 0.06 * (hi - lo) if hi > lo else 1.0
    if fixed[0] is None and lo > 0 and lo < 0.35 * hi:
        lo = 0.0  # losses: show zero when it is near
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _axes(x0: float, x1: float, y0: float, y1: float, px: Any, py: Any, x_label: str) -> str:
    out = [
        f'<rect class="plot" x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
        f'height="{H - PAD_T - PAD_B}"/>'
    ]
    for t in _nice_ticks(y0, y1):
        yy = float(py(np.array([t]))[0])
        out.append(
            f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text class="tick" x="{PAD_L - 6}" y="{yy + 3.5:.1f}" text-anchor="end">'
            f"{e(_tick_label(t))}</text>"
        )
    x_ticks = _nice_ticks(x0, x1, 6)
    if x_label in ("step", "epoch"):  # counts: no tick at 1.5 epochs
        x_ticks = [t for t in x_ticks if t == int(t)]
    for t in x_ticks:
        xx = float(px(np.array([t]))[0])
        out.append(
            f'<line class="grid" x1="{xx:.1f}" x2="{xx:.1f}" y1="{PAD_T}" y2="{H - PAD_B}"/>'
            f'<text class="tick" x="{xx:.1f}" y="{H - PAD_B + 14}" text-anchor="middle">'
            f"{e(_tick_label(t))}</text>"
        )
    out.append(
        f'<text class="axlabel" x="{(PAD_L + W - PAD_R) / 2:.0f}" y="{H - 4}" '
        f'text-anchor="middle">{e(x_label)}</text>'
    )
    return "".join(out)


def _polyline(s: Series, px: Any, py: Any) -> str:
    x, y = _decimate(s.x, s.y, CHART_POINTS)
    ok = np.isfinite(x) & np.isfinite(y)
    X, Y = px(x), py(y)
    style = (
        f'fill="none" stroke="{e(s.color)}" stroke-width="{s.width}" '
        f'stroke-opacity="{s.opacity}" stroke-linejoin="round" stroke-linecap="round"'
    )
    if s.dash:
        style += f' stroke-dasharray="{e(s.dash)}"'
    out = []
    for seg in _segments(ok):
        pts = " ".join(f"{X[i]:.1f},{Y[i]:.1f}" for i in seg)
        if len(seg) > 1:
            out.append(f'<polyline {style} points="{pts}"/>')
    if s.markers or ok.sum() == 1:
        out += [
            f'<circle cx="{X[i]:.1f}" cy="{Y[i]:.1f}" r="3" fill="{e(s.color)}">'
            f"<title>{e(s.label)}: {e(fmt_value(y[i]))} at {e(fmt_value(x[i]))}</title></circle>"
            for i in np.flatnonzero(ok)
        ]
    return "".join(out)


def _segments(ok: np.ndarray) -> list[np.ndarray]:
    """Runs of consecutive finite points (a NaN breaks the line)."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return []
    return np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)


def _decimate(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ~max_points points: per bucket the min and the max, in x order."""
    if len(x) <= max_points:
        return x, y
    xs, ys = [], []
    for bx, by in zip(
        np.array_split(x, max_points // 2), np.array_split(y, max_points // 2), strict=True
    ):
        ok = np.isfinite(by)
        if not ok.any():
            xs.append(bx[0])
            ys.append(math.nan)
            continue
        i, j = sorted((int(np.nanargmin(by)), int(np.nanargmax(by))))
        xs += [bx[i], bx[j]]
        ys += [by[i], by[j]]
    return np.array(xs), np.array(ys)


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average that skips non-finite values (and keeps them as gaps)."""
    if window <= 1 or len(y) < 3:
        return y.copy()
    ok = np.isfinite(y)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, y, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~ok] = np.nan
    return out


def smooth_window(n: int) -> int:
    """An odd moving-average window: about n/25 points."""
    return max(1, n // 25) | 1


def column(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    """One key of every record as floats (NaN where missing)."""
    return np.array([as_number(r.get(key)) for r in records], dtype=np.float64)


def raw_and_smooth(x: np.ndarray, y: np.ndarray, label: str, color: str) -> list[Series]:
    """A faint raw line under its smoothed one (just the raw line when short)."""
    w = smooth_window(len(y))
    if w == 1:
        return [Series(label, x, y, color)]
    return [
        Series(label + " (raw)", x, y, color, width=1.0, opacity=0.28, legend=False),
        Series(label, x, smooth(y, w), color),
    ]
