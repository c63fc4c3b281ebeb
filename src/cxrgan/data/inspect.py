"""`cxrgan data inspect`: what is in a folder of chest X-rays, before training on it.

One parallel pass over the folder (the same worker as the cache build: sha256 of the bytes,
header facts from `describe`, a full decode at the target size so truncated files show up)
gives counts per class and format, size and aspect-ratio summaries, DICOM pixel facts,
unreadable files with the reason, exact duplicates and a contact sheet of random images
after preprocessing. Only file paths, header facts and our own messages are reported:
`describe` and `read_gray` never return patient data. The text report prints every name
(folder, class, file, reason) through `printable`, so a file name cannot add a line of its own;
the JSON summary keeps the names as they are.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cxrgan.data.decode_parallel import NOT_AN_IMAGE, decode_files
from cxrgan.data.fit import check_target
from cxrgan.data.labels.options import LabelRequest
from cxrgan.data.labels.report import format_label_report, label_report
from cxrgan.data.scan import class_labels, scan_files
from cxrgan.errors import CxrganError, printable

SHEET_IMAGES = 64
SHEET_COLUMNS = 8
SHEET_MIN_TILE = 96  # small training sizes are enlarged (nearest) so the sheet is legible
SHEET_GAP = 2
LIST_LIMIT = 20  # unreadable files / duplicate groups listed in the text output


def inspect_folder(
    root: Path,
    image_size: int = 64,
    fit: str = "crop",
    workers: int = 0,
    progress: bool = True,
    sheet: Path | None = None,
    seed: int = 0,
    labels: LabelRequest | None = None,
) -> dict[str, Any]:
    """Inspect `root`; writes the contact sheet to `sheet` (if given). Returns the summary
    (JSON-ready; render it with `format_report`). With `labels`, the label file is checked
    against the folder and only the images its rule keeps are decoded, classed by it."""
    check_target(image_size, fit)
    root = Path(root).expanduser().resolve()
    entries = scan_files(root)
    class_of = report = None
    if labels is not None:
        entries, selection, report = label_report(root, entries, labels)
        class_of = selection.class_of()
        if not entries:
            raise CxrganError(report["problem"] or f"no file of {labels.file} is under {root}")
    # Pick the sheet's files up front so only those keep their pixels (memory stays small);
    # twice as many as needed, in case some of them turn out unreadable.
    order = np.random.default_rng(seed).permutation(len(entries))
    wanted = {int(i): rank for rank, i in enumerate(order[: 2 * SHEET_IMAGES])}
    decoded = decode_files(entries, image_size, fit, workers, progress, keep=wanted.__contains__,
                           desc="inspecting")  # fmt: skip
    records = decoded.records
    summary = summarise(records, class_of)
    summary.update({"root": str(root), "image_size": image_size, "fit": fit, "labels": report})
    picks = sorted(
        (wanted[i], r) for i, r in enumerate(records) if r["row"] is not None and i in wanted
    )[:SHEET_IMAGES]
    summary["sheet"] = None
    summary["sheet_files"] = [r["path"] for _, r in picks]
    if sheet is not None and picks:
        save_contact_sheet(decoded.images[[r["row"] for _, r in picks]], sheet)
        summary["sheet"] = str(sheet)
    return summary


def summarise(
    records: list[dict[str, Any]], class_of: dict[str, str] | None = None
) -> dict[str, Any]:
    """Counts and summaries from decode_files records (see inspect_folder)."""
    ok = [r for r in records if not r["reason"]]
    unreadable = [r for r in records if r["reason"] and r["reason"] != NOT_AN_IMAGE]
    paths = [r["path"] for r in ok]
    names = [class_of[p] for p in paths] if class_of is not None else class_labels(paths)
    labels = dict(zip(paths, names, strict=True))
    return {
        "files": len(records),
        "images": len(ok),
        "unreadable": len(unreadable),
        "not_images": sum(r["reason"] == NOT_AN_IMAGE for r in records),
        "classes": dict(sorted(Counter(labels.values()).items())),
        "formats": _formats(ok),
        "width": _spread(r["width"] for r in ok if "width" in r),
        "height": _spread(r["height"] for r in ok if "height" in r),
        "aspect": _aspect(ok),
        "dicom": _dicom([r for r in records if r.get("format") == "DICOM"]),
        "unreadable_files": [{"path": r["path"], "reason": r["reason"]} for r in unreadable],
        "not_image_files": [r["path"] for r in records if r["reason"] == NOT_AN_IMAGE],
        "duplicates": _duplicates(records, labels),
    }


def _formats(ok: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ok:
        groups[str(r.get("format") or "unknown")].append(r)
    return {
        name: {
            "count": len(rs),
            "modes": _tally(r.get("mode") for r in rs),
            "bit_depths": _tally(r.get("bit_depth") for r in rs),
        }
        for name, rs in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    }


def _tally(values: Iterable[Any]) -> dict[str, int]:
    """Counts, most common first, keyed by str (JSON keys); None (not known) becomes "?"."""
    counts = Counter("?" if v is None else str(v) for v in values)
    return dict(counts.most_common())


def _spread(values: Iterable[float]) -> dict[str, float] | None:
    arr = np.array(list(values), dtype=np.float64)
    if not arr.size:
        return None
    return {"min": float(arr.min()), "median": float(np.median(arr)), "max": float(arr.max())}


def _aspect(ok: list[dict[str, Any]]) -> dict[str, Any] | None:
    ratios = [r["width"] / r["height"] for r in ok if r.get("width") and r.get("height")]
    spread = _spread(ratios)
    if spread is None:
        return None
    wide = sum(a > 2.0 for a in ratios)
    return {**spread, "wider_than_2_1": wide, "wider_than_2_1_share": wide / len(ratios)}


def _dicom(rs: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rs:
        return None

    def count(key: str) -> dict[str, int]:
        return _tally(r.get(key) for r in rs)

    return {
        "count": len(rs),
        "photometric_interpretation": count("photometric_interpretation"),
        "bits_stored": count("bits_stored"),
        "bits_allocated": count("bit_depth"),
        "transfer_syntax": count("transfer_syntax"),
        "unreadable": sum(bool(r["reason"]) for r in rs),
    }


def _duplicates(records: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Groups of files with identical bytes (empty files aside: they are 'unreadable')."""
    by_hash: dict[str, list[str]] = defaultdict(list)
    for r in records:
        if r.get("sha256") and r["bytes"] > 0 and r["reason"] != NOT_AN_IMAGE:
            by_hash[r["sha256"]].append(r["path"])
    groups = []
    for digest, paths in sorted(by_hash.items(), key=lambda kv: kv[1][0]):
        if len(paths) > 1:
            classes = sorted({labels[p] for p in paths if p in labels})
            groups.append({"sha256": digest, "paths": paths, "classes": classes})
    return groups


# --- output ------------------------------------------------------------------------------


def save_contact_sheet(images: np.ndarray, path: Path, columns: int = SHEET_COLUMNS) -> None:
    """Tile (K, S, S) uint8 images into a grid PNG at `path`."""
    k, size = len(images), images.shape[-1]
    scale = max(1, math.ceil(SHEET_MIN_TILE / size))
    tile = size * scale
    columns = min(columns, k)
    rows = math.ceil(k / columns)
    gap = SHEET_GAP
    sheet = np.full((rows * (tile + gap) + gap, columns * (tile + gap) + gap), 128, np.uint8)
    for i, img in enumerate(images):
        big = np.kron(img, np.ones((scale, scale), np.uint8)) if scale > 1 else img
        y, x = gap + (i // columns) * (tile + gap), gap + (i % columns) * (tile + gap)
        sheet[y : y + tile, x : x + tile] = big
    path = Path(path)
    if path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(sheet, "L").save(path)
    except (OSError, ValueError) as exc:
        raise CxrganError(f"cannot write the contact sheet {path} ({exc})") from exc


def format_report(s: dict[str, Any]) -> str:
    """The summary as readable text (no patient data: paths, counts and header facts)."""
    lines = [f"folder        {printable(s['root'])}"]
    lines.append(
        f"files         {s['files']:,}: {s['images']:,} readable images, "
        f"{s['unreadable']:,} unreadable, {s['not_images']:,} not images"
    )
    lines.append("classes       " + _counts(s["classes"], s["images"], empty="(no class)"))
    if s.get("labels"):
        lines += format_label_report(s["labels"])
    formats = "; ".join(f"{name} {f['count']:,} ({_modes(f)})" for name, f in s["formats"].items())
    lines.append(f"formats       {formats or '-'}")
    for name in ("width", "height"):
        v = s[name]
        if v:
            lines.append(f"{name + ' px':<14}min {v['min']:.0f}  median {v['median']:.0f}  "
                         f"max {v['max']:.0f}")  # fmt: skip
    a = s["aspect"]
    if a:
        lines.append(
            f"aspect w:h    min {a['min']:.2f}  median {a['median']:.2f}  max {a['max']:.2f}; "
            f"wider than 2:1: {a['wider_than_2_1']:,} ({100 * a['wider_than_2_1_share']:.1f} %)"
        )
    lines += _dicom_lines(s["dicom"])
    lines += _listing("unreadable", [f"{u['path']}: {u['reason']}" for u in s["unreadable_files"]])
    lines += _listing("not images", s["not_image_files"])
    lines += _listing("duplicates", [
        " = ".join(g["paths"]) + ("  (different classes!)" if len(g["classes"]) > 1 else "")
        for g in s["duplicates"]], unit="group")  # fmt: skip
    if s.get("sheet"):
        lines.append(f"contact sheet {printable(s['sheet'])} ({len(s['sheet_files'])} random "
                     f"images after --fit {s['fit']} at {s['image_size']} px)")  # fmt: skip
    elif s.get("sheet_files"):
        lines.append("contact sheet not written (--sheet PNG writes one)")
    return "\n".join(lines)


def _counts(counts: dict[str, int], total: int, empty: str) -> str:
    if not counts:
        return "-"
    return ", ".join(
        f"{printable(name) or empty} {n:,} ({100 * n / max(total, 1):.1f} %)"
        for name, n in counts.items()
    )


def _modes(f: dict[str, Any]) -> str:
    modes = ", ".join(f"{m} {n:,}" for m, n in f["modes"].items())
    depths = "/".join(f"{d}" for d in f["bit_depths"])
    return f"{modes}; {depths}-bit"


def _dicom_lines(d: dict[str, Any] | None) -> list[str]:
    if not d:
        return []

    def join(counts: dict[str, int]) -> str:
        return ", ".join(f"{printable(k)} {v:,}" for k, v in counts.items())  # header text

    return [
        f"DICOM         {d['count']:,} files ({d['unreadable']:,} unreadable)",
        f"  photometric {join(d['photometric_interpretation'])}",
        f"  bits stored {join(d['bits_stored'])} (allocated: {join(d['bits_allocated'])})",
        f"  transfer    {join(d['transfer_syntax'])}",
    ]


def _listing(title: str, items: list[str], unit: str = "file") -> list[str]:
    if not items:
        return [f"{title:<14}none"]
    plural = "s" if len(items) != 1 else ""
    out = [f"{title:<14}{len(items):,} {unit}{plural}:"]
    out += [f"  {printable(item)}" for item in items[:LIST_LIMIT]]
    if len(items) > LIST_LIMIT:
        out.append(f"  ... and {len(items) - LIST_LIMIT:,} more (see --json)")
    return out
