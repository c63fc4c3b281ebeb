"""benchmarks/privacy.py's outputs from its rows' JSON: the markdown table, the target check, the
ROC curves and the privacy-against-quality plot. Nothing here trains or audits, so the logic can
be tested on made-up rows (tests/test_privacy_benchmark.py).

A row's JSON (written by benchmarks/privacy.py) holds: row, title, minutes, epsilon_target
(None without DP), epsilon_spent, control (the positive control), steps, images_per_s, fwd,
recall, attacks ({key: {title, auc, ci95, tpr_at_1pct_fpr}} for the attacks that ran) and roc
({key: {fpr, tpr}}).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

CONTROL_AUC = 0.8  # the positive control must be caught at least this clearly
DP10_UPPER = 0.6  # with ε = 10, no attack's AUC interval may reach above this
EPSILON_SLACK = 1e-6  # the accountant's ε against its target: rounding only

Row = dict[str, Any]


def fmt(value: Any, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def strongest(row: Row) -> tuple[str, dict[str, Any]] | None:
    """The attack with the highest AUC interval's lower bound (what the audit's verdict reads),
    or None when no attack ran."""
    ran = [(k, a) for k, a in row.get("attacks", {}).items() if a.get("auc") is not None]
    return max(ran, key=lambda ka: (ka[1]["ci95"][0], ka[1]["auc"])) if ran else None


def attack_cell(attack: dict[str, Any] | None) -> str:
    if attack is None or attack.get("auc") is None:
        return "—"
    lo, hi = attack["ci95"]
    return f"{attack['auc']:.3f} [{lo:.3f}, {hi:.3f}] / {attack['tpr_at_1pct_fpr']:.3f}"


def attack_keys(rows: Sequence[Row]) -> list[str]:
    """Every attack any row ran, in first-seen order."""
    return list(dict.fromkeys(k for r in rows for k in r.get("attacks", {})))


def table(rows: Sequence[Row]) -> str:
    keys = attack_keys(rows)
    titles = {k: a["title"] for r in rows for k, a in r.get("attacks", {}).items()}
    head = ["row", "ε target", "ε spent", "minutes", "steps", "img/s", "FWD ↓", "recall ↑"]
    head += [f"{titles[k]}: AUC [95 %] / TPR@1%FPR" for k in keys]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * 7 + " --- |" * len(keys)]
    for r in rows:
        cells = [
            r["title"],
            fmt(r.get("epsilon_target"), "g"),
            fmt(r.get("epsilon_spent"), ".3f"),
            fmt(r.get("minutes"), "g"),
            fmt(r.get("steps"), "d"),
            fmt(r.get("images_per_s"), ".1f"),
            fmt(r.get("fwd"), ".4f"),
            fmt(r.get("recall"), ".3f"),
        ]
        cells += [attack_cell(r.get("attacks", {}).get(k)) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(rows: Sequence[Row]) -> list[tuple[str, bool | None, str]]:
    """Each target of issue 25 as (name, met, evidence); met is None where its rows are missing."""
    out: list[tuple[str, bool | None, str]] = []
    controls = [r for r in rows if r.get("control")]
    best = [(r, strongest(r)) for r in controls]
    if not best or any(s is None for _, s in best):
        out.append(("the audit catches the positive control", None, "no audited control row"))
    else:
        aucs = ", ".join(f"{s[1]['title']} AUC {s[1]['auc']:.3f}" for _, s in best if s)
        met = all(s[1]["auc"] >= CONTROL_AUC for _, s in best if s)
        out.append((f"the audit catches the positive control (AUC ≥ {CONTROL_AUC})", met, aucs))
    private = [r for r in rows if r.get("epsilon_target") is not None]
    if private:
        spent = [
            f"{r['title']}: {fmt(r.get('epsilon_spent'), '.3f')} ≤ {r['epsilon_target']:g}"
            for r in private
        ]
        met = all(
            r.get("epsilon_spent") is not None
            and r["epsilon_spent"] <= r["epsilon_target"] + EPSILON_SLACK
            for r in private
        )
        out.append(("every DP run's spent ε ≤ its target", met, "; ".join(spent)))
    else:
        out.append(("every DP run's spent ε ≤ its target", None, "no DP row"))
    out.append(_dp10_upper(rows))
    out.append(_fwd_cost(rows))
    return out


def _dp10_upper(rows: Sequence[Row]) -> tuple[str, bool | None, str]:
    name = f"with ε = 10 every attack's AUC upper bound ≤ {DP10_UPPER}"
    dp10 = [r for r in rows if r.get("epsilon_target") == 10 and r.get("attacks")]
    if not dp10:
        return name, None, "no audited ε = 10 row"
    uppers = [
        (r["title"], a["title"], a["ci95"][1])
        for r in dp10
        for a in r["attacks"].values()
        if a.get("auc") is not None
    ]
    worst = max(uppers, key=lambda u: u[2])
    return name, worst[2] <= DP10_UPPER, f"highest: {worst[1]} of {worst[0]}, {worst[2]:.3f}"


def fwd_cost(rows: Sequence[Row]) -> list[tuple[str, float]]:
    """FWD of each DP row over FWD of the row without DP at the same minutes."""
    plain = {
        r["minutes"]: r["fwd"]
        for r in rows
        if r.get("epsilon_target") is None and not r.get("control") and r.get("fwd")
    }
    return [
        (r["title"], r["fwd"] / plain[r["minutes"]])
        for r in rows
        if r.get("epsilon_target") is not None
        and r.get("minutes") in plain
        and r.get("fwd") is not None
    ]


def _fwd_cost(rows: Sequence[Row]) -> tuple[str, bool | None, str]:
    name = "DP's FWD cost is measured (DP row's FWD ÷ the same minutes without DP)"
    costs = fwd_cost(rows)
    if not costs:
        return name, None, "no DP row with a row without DP at the same minutes"
    return name, True, "; ".join(f"{t}: ×{c:.2f}" for t, c in costs)


def target_lines(rows: Sequence[Row]) -> list[str]:
    mark = {True: "met", False: "MISSED", None: "not measured"}
    return [f"- **{mark[met]}**: {name} — {why}" for name, met, why in targets(rows)]


def markdown(rows: Sequence[Row], header: Sequence[str] = ()) -> str:
    return "\n".join([*header, "", table(rows), "", "Targets:", *target_lines(rows)]) + "\n"


# ------------------------------------------------------------------------------------------------
# Figures


def plot_roc(rows: Sequence[Row], path: Path) -> None:
    """One panel per attack: every row's ROC curve on log-log axes (low false-positive rates,
    where single patients are exposed, show), with chance as a dotted diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in attack_keys(rows) if any(k in r.get("roc", {}) for r in rows)]
    fig, axes = plt.subplots(
        1, max(len(keys), 1), figsize=(5 * max(len(keys), 1), 4.6), squeeze=False
    )
    floor = 1e-3
    for ax, key in zip(axes[0], keys, strict=False):
        for r in rows:
            curve = r.get("roc", {}).get(key)
            if curve is None:
                continue
            fpr, tpr = np.clip(curve["fpr"], floor, 1), np.clip(curve["tpr"], floor, 1)
            auc = r["attacks"][key]["auc"]
            ax.step(
                fpr,
                tpr,
                where="post",
                label=f"{r['title']}: {auc:.2f}",
                linestyle="--" if r.get("control") else "-",
            )
        ax.plot([floor, 1], [floor, 1], ":", color="gray", linewidth=1)
        title = next(r["attacks"][key]["title"] for r in rows if key in r.get("attacks", {}))
        ax.set(
            xscale="log",
            yscale="log",
            xlim=(floor, 1),
            ylim=(floor, 1.05),
            xlabel="false-positive rate",
            ylabel="true-positive rate",
            title=title,
        )
        ax.legend(fontsize=7, loc="lower right", title="AUC", title_fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_tradeoff(rows: Sequence[Row], path: Path) -> None:
    """The strongest attack's AUC (with its 95 % interval) against held-out FWD, one point per
    row: privacy against quality."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for r in rows:
        s = strongest(r)
        if s is None or r.get("fwd") is None:
            continue
        a = s[1]
        eps = r.get("epsilon_target")
        marker = "X" if r.get("control") else ("o" if eps is None else "s")
        err = [[a["auc"] - a["ci95"][0]], [a["ci95"][1] - a["auc"]]]
        ax.errorbar(r["fwd"], a["auc"], yerr=err, fmt=marker, capsize=3, label=r["title"])
    ax.axhline(0.5, color="gray", linestyle=":", linewidth=1)
    ax.axhline(
        DP10_UPPER,
        color="tab:red",
        linestyle="--",
        linewidth=1,
        label=f"ε = 10 target: upper bound ≤ {DP10_UPPER}",
    )
    ax.set(
        xlabel="held-out FWD (lower is better)",
        ylabel="strongest attack's AUC (0.5 = chance)",
        title="privacy against quality",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
