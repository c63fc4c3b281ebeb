"""The one-screen summary `cxrgan utility` prints: sets × scores, what each set held, the
TSTR/TRTR ratios and the gain of real + synthetic, against issue #10's targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cxrgan.utility.defaults import GAIN_TARGET, TSTR_TARGET
from cxrgan.utility.sets import SHORT
from cxrgan.utility.stats import METRICS


def scores_line(got: Mapping[str, float]) -> str:
    return (
        f"accuracy {got['accuracy']:.3f}, balanced accuracy {got['balanced_accuracy']:.3f}, "
        f"AUC {got['auc']:.3f}"
    )


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in counts.items())


def _cell(mean: float | None, std: float | None, ci: Sequence[float | None]) -> str:
    if mean is None:
        return "–"
    spread = f"±{std:.3f}" if std is not None else ""
    lo, hi = (f"{v:.3f}" if v is not None else "–" for v in ci)
    return f"{mean:.3f}{spread} [{lo},{hi}]"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def summary(result: Mapping[str, Any]) -> str:
    """One screen: the table of sets × scores, what each set held, the ratios and the gain."""
    s, counts = result["settings"], result["counts"]
    head = ["set", "accuracy", "balanced accuracy", "ROC AUC"]
    rows = [
        [SHORT.get(k, k), *(_cell(v["mean"][m], v["std"][m], v["ci95"][m]) for m in METRICS)]
        for k, v in result["sets"].items()
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    table = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
    made = []
    for k, v in result["sets"].items():
        parts = [
            f"{sum(n.values())} {kind} ({counts_text({c: x for c, x in n.items() if x})})"
            for kind, n in v["counts"].items()
            if sum(n.values())
        ]
        made.append(f"  {SHORT.get(k, k).ljust(widths[0])}  {' + '.join(parts)}")
    auc, bacc = result["ratios"]["tstr_trtr_auc"], result["ratios"]["tstr_trtr_balanced_accuracy"]
    gain, targets = result["gains"]["auc"], result["targets"]
    met = {k: "met" if t["met"] else "missed" for k, t in targets.items()}
    seeds = len(s["seeds"])
    lines = [
        f"utility of {s['synthetic']} at {s['image_size']} px: mean ± std over {seeds} seed(s) "
        f"[{round(100 * s['confidence'])} % bootstrap interval]",
        *table,
        "trained on:",
        *made,
        f"tested on: {counts['n_test']} held-out real images ({counts_text(counts['test'])})",
        f"TSTR/TRTR: AUC {_cell(auc['value'], None, auc['ci95'])}, balanced accuracy "
        f"{_cell(bacc['value'], None, bacc['ci95'])} (target ≥ {TSTR_TARGET}: "
        f"{met['tstr_balanced_accuracy_ratio']})",
        f"gain of real+synthetic over real, AUC: {_signed(gain['value'])} "
        f"[{_signed(gain['ci95'][0])}, {_signed(gain['ci95'][1])}] (target: lower bound ≥ "
        f"{GAIN_TARGET}: {met['augmentation_auc_lower_bound']})",
    ]
    if seeds < 3:
        lines.append("note: fewer than 3 seeds; the standard deviations say little")
    return "\n".join(lines)
