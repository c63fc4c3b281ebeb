"""The curves of a run's report as inline SVG charts: losses, D's outputs, ADA's p, FWD (per
class too) and KID, sample diversity, with markers where the learning rates changed or a loss
went NaN; the trainer's own matplotlib plots folded beneath."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.reporting import thresholds as th
from cxrgan.reporting.formatting import as_number, fmt_value
from cxrgan.reporting.html_images import load_image
from cxrgan.reporting.html_page import img_tag, section
from cxrgan.reporting.run_data import RunData
from cxrgan.reporting.run_records import best_evaluation, fwd_floor, per_class_fwd
from cxrgan.reporting.svg_charts import Series, VLine, column, line_chart, raw_and_smooth

C_LOSS_D, C_LOSS_G = "#e8590c", "#1c7ed6"  # the tutorial's colours: D orange, G blue
C_DX, C_DGZ1, C_DGZ2 = "#2f9e44", "#c2255c", "#f783ac"
C_FWD, C_KID, C_DIV = "#7048e8", "#0c8599", "#0c8599"
C_ADA = "#9c36b5"
C_CLASSES = ("#f08c00", "#2b8a3e", "#1971c2", "#e03131", "#5c940d", "#862e9c")


def curves_section(run: RunData) -> str:
    charts = [
        _loss_chart(run),
        _d_chart(run),
        _ada_chart(run),
        *_quality_charts(run),
        _diversity_chart(run),
    ]
    charts = [c for c in charts if c]
    if not charts:
        return section("curves", "Curves", '<p class="muted">No training records yet.</p>')
    extra = _trainer_plots(run.path)
    return section("curves", "Curves", f'<div class="charts">{"".join(charts)}</div>{extra}')


def _loss_chart(run: RunData) -> str:
    if not run.train:
        return ""
    x = column(run.train, "step")
    series = raw_and_smooth(x, column(run.train, "loss_d"), "loss_D", C_LOSS_D)
    series += raw_and_smooth(x, column(run.train, "loss_g"), "loss_G", C_LOSS_G)
    vlines = _lr_changes(run.train) + _nonfinite_line(run.train)
    return line_chart(series, title="Losses", vlines=vlines)


def _d_chart(run: RunData) -> str:
    if not run.train:
        return ""
    x = column(run.train, "step")
    series = raw_and_smooth(x, column(run.train, "d_x"), "D(x)", C_DX)
    series += raw_and_smooth(x, column(run.train, "d_g_z1"), "D(G(z)) before D step", C_DGZ1)
    series += raw_and_smooth(x, column(run.train, "d_g_z2"), "D(G(z)) after", C_DGZ2)
    return line_chart(
        series,
        title="Discriminator outputs as probabilities, σ(logit)",
        y_range=(0.0, 1.0),
        hlines=[(0.5, "0.5: D cannot tell")],
        vlines=_lr_changes(run.train),
    )


def _ada_chart(run: RunData) -> str:
    """ADA's augmentation probability p (runs with --augment ada)."""
    p = column(run.train, "augment_p")
    if not np.isfinite(p).any():
        return ""
    high = th.DEFAULT_THRESHOLDS.ada_p_high
    return line_chart(
        [Series("ADA p", column(run.train, "step"), p, C_ADA)],
        title="ADA augmentation probability p",
        y_range=(0.0, 1.0),
        hlines=[(high, f"p ≥ {fmt_value(high)} for long: D overfits")],
        vlines=_lr_changes(run.train),
        note=f"latest {fmt_value(latest(run.train, 'augment_p'))}; near 0 is normal",
    )


def _quality_charts(run: RunData) -> list[str]:
    if not run.evals:
        return []
    x = column(run.evals, "step")
    fwd = column(run.evals, "fwd")
    floor, floor_n = fwd_floor(run.evals)
    notes = [f"best {fmt_value(np.nanmin(fwd))}"] if np.isfinite(fwd).any() else []
    hlines: list[tuple[float, str]] = []
    if math.isfinite(floor):
        at = f" (n={floor_n})" if floor_n else ""
        hlines.append((floor, f"real-vs-real floor {fmt_value(floor)}{at}"))
        if np.isfinite(fwd).any():
            notes.append(
                f"×{fmt_value(np.nanmin(fwd) / floor)} the real-vs-real floor {fmt_value(floor)}"
            )
    best = best_evaluation(run.evals)
    if best is not None and "fwd_worst_class" in best:  # conditional: chosen by the worst class
        notes.append(
            f"checkpoints/best: step {best['step']}, worst class's FWD "
            f"{fmt_value(as_number(best['fwd_worst_class']))}"
        )
    out = [
        line_chart(
            [Series("FWD", x, fwd, C_FWD, markers=True), *_per_class_fwd(run.evals)],
            title="Quality: FWD (lower is better)",
            # From 0 when the floor is drawn: the gap to it is the point.
            y_range=(0.0, None) if hlines else (None, None),
            hlines=hlines,
            note="; ".join(notes),
        )
    ]
    kid = column(run.evals, "kid_mean")
    if np.isfinite(kid).any():
        out.append(
            line_chart([Series("KID", x, kid, C_KID, markers=True)], title="Quality: KID (mean)")
        )
    return out


def _per_class_fwd(evals: list[dict[str, Any]]) -> list[Series]:
    """A conditional run's FWD per class, dashed beside the overall curve."""
    return [
        Series(
            f"FWD {name}",
            np.array(steps, dtype=float),
            np.array(values, dtype=float),
            C_CLASSES[i % len(C_CLASSES)],
            width=1.5,
            dash="5,3",
            markers=True,
        )
        for i, (name, (steps, values)) in enumerate(per_class_fwd(evals).items())
    ]


def _diversity_chart(run: RunData) -> str:
    if len(run.diversity) < 2:
        return ""
    epochs = np.array([ep for ep, _ in run.diversity], dtype=float)
    values = np.array([v for _, v in run.diversity])
    series = [Series("generated", epochs, values, C_DIV, markers=True)]
    hlines = []
    if run.real_diversity is not None:
        hlines.append((run.real_diversity, f"real images {fmt_value(run.real_diversity)}"))
    t = th.DEFAULT_THRESHOLDS
    limit = t.collapse_ratio * run.real_diversity if run.real_diversity else t.collapse_diversity
    hlines.append((limit, f"mode collapse ≤ {fmt_value(limit)}"))
    return line_chart(
        series,
        title="Sample diversity (fixed noise)",
        x_label="epoch",
        y_range=(0.0, 1.05),
        hlines=hlines,
    )


def _lr_changes(train: Sequence[Mapping[str, Any]]) -> list[VLine]:
    """Where the learning rates changed (a resume with new rates, or --balance)."""
    out = []
    for prev, cur in itertools.pairwise(train):
        a, b = (prev.get("lr_g"), prev.get("lr_d")), (cur.get("lr_g"), cur.get("lr_d"))
        if a != b and None not in a + b:
            out.append(
                VLine(as_number(cur.get("step")), f"lr → G {fmt_value(b[0])}, D {fmt_value(b[1])}")
            )
    return out


def _nonfinite_line(train: Sequence[Mapping[str, Any]]) -> list[VLine]:
    for r in train:
        vals = [as_number(r.get(k)) for k in ("loss_d", "loss_g") if k in r]
        if any(not math.isfinite(v) for v in vals):
            return [VLine(as_number(r.get("step")), "NaN/inf", "#cf222e")]
    return []


def _trainer_plots(path: Path) -> str:
    figures = []
    for name in ("losses.png", "quality.png"):
        img = load_image(path / "plots" / name)
        if img is not None:
            figures.append(f"<figure>{img_tag(img, 'plots/' + name, 'plot')}</figure>")
    if not figures:
        return ""
    return (
        '<details class="plots"><summary>The trainer\'s matplotlib plots (plots/*.png)</summary>'
        f'<div class="plotrow">{"".join(figures)}</div></details>'
    )


def latest(records: Sequence[Mapping[str, Any]], key: str) -> float:
    """The last finite value of `key` (NaN when no record has one)."""
    for r in reversed(records):
        v = as_number(r.get(key))
        if math.isfinite(v):
            return v
    return math.nan
