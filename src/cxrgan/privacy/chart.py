"""RUN/plots/privacy_roc.png: every attack's ROC curve over all films, on linear axes and on
log-log axes (where the low false-positive rates that matter for single films show)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

from cxrgan.privacy.defaults import FPR
from cxrgan.reporting.plots import save_figure


def plot_roc(
    result: Mapping[str, Any], curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: Path
) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    attacks = result["attacks"]
    for key, (fpr, tpr) in curves.items():
        s = attacks[key]["overall"]
        label = (
            f"{attacks[key]['title']}: AUC {s['auc']:.2f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}]"
        )
        dashed = "--" if key.endswith("_calibrated") else "-"
        for ax in axes:
            ax.step(fpr, tpr, where="post", linestyle=dashed, label=label)
    low = 1 / max(result["counts"]["nonmembers"], 1)
    axes[0].plot([0, 1], [0, 1], ":", color="gray", label="chance")
    axes[1].plot([low, 1], [low, 1], ":", color="gray")
    axes[1].axvline(FPR, color="gray", linewidth=0.8)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlim(low / 2, 1)
    axes[1].set_ylim(low / 2, 1.05)
    for ax, title in zip(axes, ("ROC", f"ROC, log-log (line at {FPR:.0%} FPR)"), strict=True):
        ax.set_xlabel("false-positive rate (held-out films called members)")
        ax.set_ylabel("true-positive rate (training films caught)")
        ax.set_title(title, fontsize=10)
    axes[0].legend(loc="lower right", fontsize=7)
    counts = result["counts"]
    fig.suptitle(
        f"Membership inference: {counts['members']} training vs {counts['nonmembers']} held-out "
        f"films\n{result['verdict']['text']}",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, path)
