"""benchmarks/scale.py's results: the markdown table and the targets (issue 24).

Each result is one JSON file per (size, step): size, label ("n5000" or "huge"), step,
seconds, seconds_per_image, peak_rss_bytes, rc. Targets:
* time per image at the largest size <= TIME_RATIO x at the smallest, for every step;
* training's peak RSS at the largest size within RSS_SPREAD of the smallest;
* the huge set (a cache larger than memory) trains to the end (exit code 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STEPS = ("inspect", "cache", "train", "evaluate", "memorisation", "split")
TIME_RATIO = 1.3
RSS_SPREAD = 1 << 30  # 1 GiB
GiB = float(1 << 30)

Row = dict[str, Any]


def load_results(folder: Path) -> list[Row]:
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]


def _by_size(rows: list[Row]) -> dict[int, dict[str, Row]]:
    out: dict[int, dict[str, Row]] = {}
    for r in rows:
        if r["label"] != "huge":
            out.setdefault(int(r["size"]), {})[r["step"]] = r
    return dict(sorted(out.items()))


def markdown_table(rows: list[Row]) -> str:
    """Time per image (ms) and peak RSS (GiB) per step and size; the largest / smallest ratio."""
    sizes = _by_size(rows)
    if not sizes:
        return "(no results)"
    lo, hi = min(sizes), max(sizes)
    head = [
        "step",
        *(f"{s:,}: ms/image" for s in sizes),
        *(f"{s:,}: peak RSS GiB" for s in sizes),
        f"time {hi:,}/{lo:,}",
        f"RSS {hi:,} − {lo:,} GiB",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for step in STEPS:
        cells = [sizes[s].get(step) for s in sizes]
        if all(c is None for c in cells):
            continue
        ms = [_num(c, "seconds_per_image", 1e3, 3) for c in cells]
        rss = [_num(c, "peak_rss_bytes", 1 / GiB, 2) for c in cells]
        a, b = sizes[lo].get(step), sizes[hi].get(step)
        ratio = f"{b['seconds_per_image'] / a['seconds_per_image']:.2f}" if a and b else "–"
        spread = f"{(b['peak_rss_bytes'] - a['peak_rss_bytes']) / GiB:+.2f}" if a and b else "–"
        lines.append("| " + " | ".join([step, *ms, *rss, ratio, spread]) + " |")
    huge = [r for r in rows if r["label"] == "huge"]
    if huge:
        lines += [
            "",
            "| huge set | images | px | seconds | peak RSS GiB | exit |",
            "|---|---|---|---|---|---|",
        ]
        for r in sorted(huge, key=lambda r: STEPS.index(r["step"])):
            lines.append(
                f"| {r['step']} | {r['size']:,} | {r['image_size']} | {r['seconds']:.0f} | "
                f"{r['peak_rss_bytes'] / GiB:.2f} | {r['rc']} |"
            )
    return "\n".join(lines)


def _num(row: Row | None, key: str, scale: float, digits: int) -> str:
    return "–" if row is None else f"{row[key] * scale:.{digits}f}"


def check_targets(rows: list[Row]) -> list[str]:
    """One line per target: 'PASS ...' or 'FAIL ...' (or 'MISSING ...' when not measured)."""
    sizes = _by_size(rows)
    out = [
        f"FAIL {r['label']} {r['step']}: exit {r['rc']} (see {r.get('log', 'its log')})"
        for r in rows
        if r["rc"] != 0
    ]
    if len(sizes) < 2:
        return [*out, "MISSING: at least two sizes are needed to compare"]
    lo, hi = min(sizes), max(sizes)
    for step in STEPS:
        a, b = sizes[lo].get(step), sizes[hi].get(step)
        if not (a and b):
            out.append(f"MISSING {step}: not measured at {lo:,} and {hi:,}")
            continue
        ratio = b["seconds_per_image"] / a["seconds_per_image"]
        verdict = "PASS" if ratio <= TIME_RATIO else "FAIL"
        out.append(
            f"{verdict} {step}: time per image at {hi:,} is {ratio:.2f} x at {lo:,} "
            f"(target <= {TIME_RATIO})"
        )
    a, b = sizes[lo].get("train"), sizes[hi].get("train")
    if a and b:
        spread = b["peak_rss_bytes"] - a["peak_rss_bytes"]
        verdict = "PASS" if abs(spread) <= RSS_SPREAD else "FAIL"
        out.append(
            f"{verdict} train RSS: peak {b['peak_rss_bytes'] / GiB:.2f} GiB at {hi:,}, "
            f"{a['peak_rss_bytes'] / GiB:.2f} GiB at {lo:,} (target: within 1 GiB)"
        )
    huge = [r for r in rows if r["label"] == "huge" and r["step"] == "train"]
    if huge:
        r = huge[0]
        verdict = "PASS" if r["rc"] == 0 else "FAIL"
        out.append(
            f"{verdict} huge: {r['size']:,} images at {r['image_size']} px trained "
            f"(exit {r['rc']}, peak RSS {r['peak_rss_bytes'] / GiB:.2f} GiB)"
        )
    return out
