"""utility.png: the three training sets × three scores, as bars with their 95 % intervals."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

from cxrgan.reporting.plots import save_figure
from cxrgan.utility.sets import SHORT
from cxrgan.utility.stats import METRIC_TITLES, METRICS

COLORS = {"real": "#1c7ed6", "synthetic": "#e8590c", "augmented": "#2f9e44"}


def plot_utility(result: Mapping[str, Any], path: Path) -> None:
    """Grouped bars (one group per score, one bar per set): the mean over seeds, error bars the
    bootstrap interval, a dotted line at what guessing scores."""
    sets = result["sets"]
    fig, ax = plt.subplots(figsize=(9, 5))
    x = np.arange(len(METRICS))
    width = 0.8 / len(sets)
    for i, (key, s) in enumerate(sets.items()):
        means = np.array([s["mean"][m] for m in METRICS], dtype=float)
        lo = np.array([s["ci95"][m][0] for m in METRICS], dtype=float)
        hi = np.array([s["ci95"][m][1] for m in METRICS], dtype=float)
        yerr = np.clip(np.stack([means - lo, hi - means]), 0, None)
        pos = x - 0.4 + width * (i + 0.5)
        n = s["n_images"]
        ax.bar(
            pos,
            means,
            width * 0.9,
            yerr=yerr,
            capsize=4,
            color=COLORS.get(key, "gray"),
            label=f"{SHORT.get(key, key)} ({n} images)",
        )
        for p, m in zip(pos, means, strict=True):
            ax.text(
                p,
                0.03,
                f"{m:.3f}",
                ha="center",
                va="bottom",
                rotation=90,
                fontsize=8,
                color="white",
            )
    chance = result.get("chance", {})
    for j, m in enumerate(METRICS):
        if m in chance:
            ax.hlines(
                chance[m],
                j - 0.45,
                j + 0.45,
                colors="gray",
                linestyles=":",
                label="chance" if j == 0 else None,
            )
    ax.set_xticks(x, [METRIC_TITLES[m] for m in METRICS])
    ax.set_ylim(0, 1.22)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel(f"on {result['counts']['n_test']} held-out real images")
    ax.legend(loc="upper center", ncol=4, fontsize=8, frameon=False)
    ax.set_title(_title(result), fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def _title(result: Mapping[str, Any]) -> str:
    seeds = len(result["settings"]["seeds"])
    ratio = result["ratios"]["tstr_trtr_auc"]["value"]
    gain = result["gains"]["auc"]
    lo, hi = gain["ci95"]
    return (
        f"Utility: one CNN trained three ways, mean of {seeds} seed(s), 95 % bootstrap intervals\n"
        f"TSTR/TRTR AUC {_num(ratio)} · AUC gain from synthetic {_num(gain['value'], '+')} "
        f"[{_num(lo, '+')}, {_num(hi, '+')}]"
    )


def _num(value: float | None, sign: str = "") -> str:
    return "–" if value is None else f"{value:{sign}.3f}"
