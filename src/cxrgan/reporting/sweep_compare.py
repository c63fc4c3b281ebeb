"""The pictures and the table that compare the members of a sweep (see cxrgan.sweep.session).

Everything here reads sweep.json's member summaries and the members' run folders; nothing
trains or changes a run.
"""

from __future__ import annotations

import math
import shlex
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt

from cxrgan.reporting.formatting import fmt_column
from cxrgan.reporting.plots import save_figure, smooth
from cxrgan.reporting.run_records import load_records

GRID_COLUMNS = 4  # members per row in grids.png


def caption(member: dict[str, Any]) -> str:
    """'#1 g_lr=1e-3\\nd_lr=2e-4' : rank and one swept setting per line."""
    params = member["name"].split(",")
    status = "" if member.get("status") == "done" else f" ({member.get('status')})"
    return f"#{member.get('rank', '?')}{status} " + "\n".join(params)


def plot_grids(sweep: Path, members: Sequence[dict[str, Any]], path: Path) -> None:
    """Each member's latest samples/epoch_NNNN.png, captioned, in rank order."""
    n = max(1, len(members))
    cols = min(GRID_COLUMNS, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 3.7 * rows + 0.4), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, member in zip(axes.flat, members, strict=False):
        grid = member.get("grid")
        if grid and (sweep / grid).is_file():
            ax.imshow(plt.imread(sweep / grid), cmap="gray", vmin=0, vmax=1)
            epoch = Path(grid).stem.removeprefix("epoch_").lstrip("0") or "0"
            title = f"{caption(member)}\nepoch {epoch}"
        else:
            ax.text(0.5, 0.5, "no samples yet", ha="center", va="center", color="gray")
            title = caption(member)
        ax.set_title(title, fontsize=8)
    fig.suptitle("Final fixed-noise samples of each member (rank order)", fontsize=10)
    save_figure(fig, path)


def plot_losses(sweep: Path, members: Sequence[dict[str, Any]], path: Path) -> None:
    """Loss_G (top) and Loss_D (bottom) of every member against step, one colour each."""
    fig, (ax_g, ax_d) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    colours = plt.get_cmap("tab10" if len(members) <= 10 else "tab20")
    for i, member in enumerate(sorted(members, key=lambda m: m.get("index", 0))):
        run_dir = sweep / member["run_dir"]
        train = load_records(run_dir)[0] if run_dir.is_dir() else []
        if not train:
            continue
        steps = [r.get("step") for r in train]
        window = max(1, len(train) // 25)
        colour = colours(i % colours.N)
        label = f"#{member.get('rank', '?')} {member['name']}"
        for ax, key in ((ax_g, "loss_g"), (ax_d, "loss_d")):
            values = [_finite(r.get(key)) for r in train]
            if window > 1:
                ax.plot(steps, values, color=colour, alpha=0.2, linewidth=0.7)
            ax.plot(steps, smooth(values, window), color=colour, linewidth=1.8, label=label)
    ax_g.set_title("Generator and discriminator loss of each member")
    ax_g.set_ylabel("Loss_G")
    ax_d.set_ylabel("Loss_D")
    ax_d.set_xlabel("step (optimiser steps)")
    if ax_g.lines:
        ax_g.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    save_figure(fig, path)


def _finite(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan  # gaps, not an axis stretched to infinity


def format_table(summary: dict[str, Any], sweep: Path | None = None) -> str:
    """The ranking as a fixed-width table, with the rule used and what to do next."""
    members = summary.get("members", [])
    by_fwd = summary.get("ranked_by") == "best_fwd"
    header = ["rank", "member", "status", "step", "Loss_D", "Loss_G", "D(x)", "D(G(z))", "|gap|"]
    header += ["best FWD"] if by_fwd else []
    header += ["diagnosis"]
    rows = [header]
    for m in members:
        window, final = m.get("window") or {}, m.get("final") or {}
        diagnosis = (m.get("diagnosis") or {}).get("title") or "-"
        keys = ("loss_d", "loss_g", "d_x", "d_g_z1")
        numbers = [final.get("step"), *(window.get(k) for k in keys), m.get("score")]
        row = [str(m.get("rank", "")), m["name"], m.get("status", "?")]
        row += [fmt_column(v) for v in numbers]
        row += [fmt_column(m.get("best_fwd"), 2)] if by_fwd else []
        rows.append([*row, diagnosis])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    numeric = set(range(3, len(header) - 1)) | {0}
    lines = [
        "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(_rule_text(by_fwd))
    lines += _next_steps(summary, sweep)
    return "\n".join(lines)


def _rule_text(by_fwd: bool) -> str:
    if by_fwd:
        return ("Ranked by best FWD (lower is better); members without FWD after them. "
                "Loss columns: means over the last window of training records.")  # fmt: skip
    return textwrap.fill(
        "Ranked by the loss heuristic (no member has FWD; train with --eval-every to rank by "
        "FWD): finished members first; then healthy (or too early to judge) before imbalanced "
        "(D overpowers G, D too weak, oscillating) before broken (diverged, mode collapse, "
        "NaN); then the smallest |D(x) − D(G(z))| over the last window (a balanced game). "
        "It cannot see image quality: look at grids.png.",
        width=100,
    )


def _next_steps(summary: dict[str, Any], sweep: Path | None) -> list[str]:
    lines = []
    best = summary.get("best")
    if best:
        run = Path(sweep or ".") / "runs" / best
        lines.append(f"best: {best}")
        lines.append(f"  continue it: cxrgan train --resume {shlex.quote(str(run))} --epochs N")
    unfinished = [m["name"] for m in summary.get("members", []) if m.get("status") != "done"]
    if unfinished:
        lines.append(f"{len(unfinished)} member(s) not finished: re-run the sweep command to "
                     "resume or retry them")  # fmt: skip
    if sweep:
        lines.append(f"pictures: {sweep}/grids.png, {sweep}/losses.png")
    return lines
