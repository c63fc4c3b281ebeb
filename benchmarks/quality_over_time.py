"""Quality over training time, for benchmarks/quality.py's long regimes: the evaluation records
each row's run logged during training (`--eval-every 5 --eval-unit minutes` against the held-out
films), as a table of FWD and recall at fixed minutes, a late-decline check, and a figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

MARKS = (5.0, 10.0, 20.0, 30.0)  # the minutes the long table reports
LATE_FWD = 1.1  # FWD at the end at most this × the row's best: no late decline
LATE_RECALL = 1 / 1.1  # recall at the end at least this × the row's best


def curve(run: Path) -> list[dict[str, float]]:
    """The run's evaluations in training-time order: minutes of training, FWD, recall."""
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "fwd" in r and "elapsed_s" in r and "loss_d" not in r:
            out.append({"minutes": r["elapsed_s"] / 60, "fwd": r["fwd"], "recall": r.get("recall")})
    return sorted(out, key=lambda e: e["minutes"])


def at(points: list[dict[str, float]], minutes: float, key: str) -> float | None:
    """`key` at the evaluation nearest to `minutes` (within a minute), else None."""
    near = [p for p in points if abs(p["minutes"] - minutes) <= 1.0 and p[key] is not None]
    return min(near, key=lambda p: abs(p["minutes"] - minutes))[key] if near else None


def decline(points: list[dict[str, float]]) -> dict[str, Any]:
    """The end against the best: FWD end/best (≤ 1.1: no late decline) and recall end/best
    (≥ 1/1.1)."""
    if not points:
        return {}
    fwd = [p["fwd"] for p in points]
    recall = [p["recall"] for p in points if p["recall"] is not None]
    out: dict[str, Any] = {"fwd_end_over_best": fwd[-1] / min(fwd)}
    if recall:
        out["recall_end_over_best"] = recall[-1] / max(recall)
    out["late_decline"] = out["fwd_end_over_best"] > LATE_FWD or (
        out.get("recall_end_over_best", 1.0) < LATE_RECALL
    )
    return out


def marks_table(curves: dict[str, list[list[dict[str, float]]]]) -> list[str]:
    """Markdown rows: each row's FWD and recall at MARKS (mean over its seeds)."""
    head = (
        " | ".join(f"FWD {m:g} min" for m in MARKS)
        + " | "
        + " | ".join(f"recall {m:g} min" for m in MARKS)
    )
    lines = [f"| row | {head} |", "| --- |" + " ---: |" * (2 * len(MARKS))]
    for row, seeds in curves.items():
        cells = []
        for key, spec in (("fwd", ".4f"), ("recall", ".3f")):
            for m in MARKS:
                got = [v for s in seeds if (v := at(s, m, key)) is not None]
                cells.append(format(float(np.mean(got)), spec) if got else "—")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return lines


def figure(
    curves: dict[str, list[list[dict[str, float]]]],
    floor: dict[str, Any] | None,
    title: str,
    conditions: str,
    path: Path,
) -> None:
    """FWD (log scale) and recall against training minutes, one colour per row (each seed a
    line), with the real-vs-real floor dashed; the title says when the rows were measured and
    the machine's load meanwhile (`conditions`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (row, seeds) in enumerate(curves.items()):
        colour = f"C{i}"
        for j, points in enumerate(seeds):
            x = [p["minutes"] for p in points]
            axes[0].plot(x, [p["fwd"] for p in points], "o-", color=colour,
                         label=row if j == 0 else None, alpha=0.9)  # fmt: skip
            rec = [(p["minutes"], p["recall"]) for p in points if p["recall"] is not None]
            if rec:
                axes[1].plot(*zip(*rec, strict=True), "o-", color=colour, alpha=0.9)
    for ax, key, name in ((axes[0], "fwd", "FWD ↓ (held-out films)"),
                          (axes[1], "recall", "recall ↑")):  # fmt: skip
        if floor and floor.get(key) is not None:
            ax.axhline(floor[key], color="gray", ls="--", label="real vs real (floor)")
        ax.set_xlabel("training minutes")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title}\nmeasured {conditions}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
