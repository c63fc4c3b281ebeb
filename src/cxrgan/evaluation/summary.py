"""The text `cxrgan evaluate` prints once the numbers are in."""

from __future__ import annotations

from cxrgan.evaluation.defaults import FEW
from cxrgan.evaluation.evaluate import Evaluation
from cxrgan.metrics import format_metrics
from cxrgan.metrics.evaluate import format_class_table
from cxrgan.metrics.registry import N_FAKE, N_REAL

FWD = "fwd"  # the registry's name of FWD: no small-sample note when it was skipped
MEMORISED = "memorised_share"  # the copy check's number: its pairs were computed


def summary(result: Evaluation) -> str:
    """The metrics table, what was skipped and why, small-sample notes, where the closest
    pairs went, and each class's notes and the per-class table."""
    p = result.payload
    size = p["image_size"]
    lines = [format_metrics(p["metrics"], title=f"{p['fake']} vs {p['real']} at {size} px")]
    lines += [f"skipped {reason}" for reason in p["skipped"].values()]
    lines += _few("", p["metrics"], p["skipped"])
    if result.memorisation_png is not None:
        lines.append(f"closest generated/training pairs: {result.memorisation_png}")
    elif p["metrics"].get(MEMORISED) is not None:
        lines.append("closest generated/training pairs: not saved (--memorisation-png FILE)")
    if result.per_class:
        for name, r in result.per_class.items():
            lines += [f"class {name}: skipped {reason}" for reason in r.skipped.values()]
            lines += _few(f"class {name}: ", r.metrics, r.skipped)
        title = f"per class at {size} px (overall: the classes pooled, as above)"
        lines.append(format_class_table(p["metrics"], result.per_class, title=title))
    return "\n".join(lines)


def _few(who: str, metrics: dict[str, float | None], skipped: dict[str, str]) -> list[str]:
    few = min(metrics[N_REAL] or 0, metrics[N_FAKE] or 0)
    if few >= FEW or FWD in skipped:
        return []
    return [f"note: {who}only {few:.0f} images on one side; FWD/KID are biased and "
            "precision/recall noisy below a few hundred"]  # fmt: skip
