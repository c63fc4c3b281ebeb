"""What `cxrgan data inspect DIR --labels FILE` says about a label file against its folder:
counts per class after the rules and what each rule dropped, rows whose file is missing,
image files with no row, duplicate rows, patients per class, views and the official split.
Nothing is decoded here; one pass over the rows and the folder's scan."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from cxrgan.data.decode import IMAGE_SUFFIXES
from cxrgan.data.labels.options import LabelRequest
from cxrgan.data.labels.registry import read_labels
from cxrgan.data.labels.rules import Selection, problem, select
from cxrgan.data.scan import FileEntry
from cxrgan.errors import printable

LIST_LIMIT = 20  # paths listed per kind of problem in the text report


def label_report(
    root: Any, entries: list[FileEntry], request: LabelRequest
) -> tuple[list[FileEntry], Selection, dict[str, Any]]:
    """The files the rule keeps, the selection, and the report (JSON-ready)."""
    table = read_labels(request.file, root, request.options)
    by_rel = {e.rel: e for e in entries}
    selection = select(table, request.rule, by_rel, check=False)
    listed = set(table.paths)
    missing = [p for p in dict.fromkeys(table.paths) if p not in by_rel]
    unlisted = [e.rel for e in entries if e.rel not in listed and _is_image(e.rel)]
    seen = Counter(table.paths)
    duplicates = [p for p, n in seen.items() if n > 1]
    patients: dict[str, set[str]] = defaultdict(set)
    for patient, label in zip(selection.patients, selection.labels, strict=True):
        patients[selection.classes[label]].add(patient)
    report = selection.record()
    report["problem"] = problem(
        selection, request.minimum
    )  # what training would refuse, shown, not raised
    report.update({
        "missing_files": {"count": len(missing), "paths": missing[:LIST_LIMIT]},
        "files_without_row": {"count": len(unlisted), "paths": unlisted[:LIST_LIMIT]},
        "duplicate_rows": {"count": sum(seen[p] - 1 for p in duplicates),
                           "paths": duplicates[:LIST_LIMIT]},
        "patients_per_class": {c: len(patients[c]) for c in selection.classes},
        "views": dict(Counter(v or "(none)" for v in table.views).most_common()),
        "views_kept": dict(Counter(table.views[i] or "(none)" for i in selection.rows)
                           .most_common()),
        "official_split": dict(Counter(s for s in table.splits if s)),
    })  # fmt: skip
    wanted = set(selection.paths)
    return [e for e in entries if e.rel in wanted], selection, report


def _is_image(rel: str) -> bool:
    dot = rel.rfind(".")
    return dot > rel.rfind("/") and rel[dot:].lower() in IMAGE_SUFFIXES


def format_label_report(r: dict[str, Any]) -> list[str]:
    """The report's lines, names through `printable`."""
    rule = r["rule"]
    views = rule["views"] if isinstance(rule["views"], str) else ",".join(rule["views"])
    dropped = ", ".join(f"{k} {v:,}" for k, v in r["dropped"].items() if v) or "none"
    lines = [
        f"label file    {printable(r['file'])} ({r['format']}; {r['rows']:,} rows)",
        f"rule          classes {', '.join(map(printable, rule['classes']))}; multi-label "
        f"{rule['multi_label']}; uncertain {rule['uncertain']}; views {printable(views)}",
        f"kept          {r['kept']:,} images of {r['patients']:,} patients; dropped: {dropped}",
        "per class     " + ", ".join(
            f"{printable(c)} {n:,} ({r['patients_per_class'][c]:,} patients)"
            for c, n in r["classes"].items()
        ),
        "views         " + _join(r["views"]) + "   kept: " + _join(r["views_kept"]),
    ]  # fmt: skip
    if r["official_split"]:
        lines.append("official split " + _join(r["official_split"]))
    for key, title in (("missing_files", "missing files"), ("files_without_row", "no row"),
                       ("duplicate_rows", "repeated rows")):  # fmt: skip
        part = r[key]
        shown = ", ".join(printable(p) for p in part["paths"][:3])
        more = " …" if part["count"] > 3 else ""
        lines.append(f"{title:<14}{part['count']:,}" + (f": {shown}{more}" if shown else ""))
    lines += [f"note          {printable(n)}" for n in r["notes"]]
    if r["problem"]:
        lines.append(f"problem       {r['problem']}")
    return lines


def _join(counts: dict[str, int]) -> str:
    return ", ".join(f"{printable(k)} {v:,}" for k, v in counts.items()) or "-"
