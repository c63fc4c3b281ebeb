"""The report page of a sweep: its members ranked in a table, their curves overlaid and their
latest samples side by side."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.errors import CxrganError
from cxrgan.reporting.formatting import as_number, fmt_value
from cxrgan.reporting.html_assets import FILMSTRIP_JS
from cxrgan.reporting.html_images import load_image
from cxrgan.reporting.html_page import (
    REPORT_NAME,
    SEVERITY,
    chip,
    config_value,
    data_table,
    e,
    img_tag,
    render_page,
    section,
)
from cxrgan.reporting.run_data import RunData, load_run
from cxrgan.reporting.run_records import best_evaluation, is_run_dir, selection_fwd
from cxrgan.reporting.svg_charts import Series, column, line_chart, smooth, smooth_window

SWEEP_IMAGE_WIDTH = 540
PALETTE = (
    "#1c7ed6", "#e8590c", "#2f9e44", "#c2255c", "#7048e8",
    "#0c8599", "#a61e4d", "#5c940d", "#d6336c", "#495057",
)  # fmt: skip


@dataclass
class _Member:
    name: str
    params: dict[str, Any]
    status: str
    rank: int
    run: RunData | None
    link: str | None  # relative href to the member's report.html
    ranked: bool = False  # the sweep gave it a rank
    error: str = ""  # why a member failed, as the sweep recorded it


def _load_sweep(root: Path) -> tuple[dict[str, Any], list[_Member]]:
    try:
        meta = json.loads((root / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CxrganError(f"{root / 'sweep.json'} is unreadable: {exc}") from exc
    if not isinstance(meta, dict):
        raise CxrganError(f"{root / 'sweep.json'} is not a JSON object")
    members = []
    raw = meta.get("members") if isinstance(meta.get("members"), list) else []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            continue
        rel = m.get("run_dir")
        run_path = root / str(rel) if isinstance(rel, str) and rel else None
        run = None
        if run_path is not None and is_run_dir(run_path):
            run = load_run(run_path, str(m.get("name", run_path.name)))
        link = None
        if run_path is not None and (run_path / REPORT_NAME).is_file():
            link = Path(str(rel), REPORT_NAME).as_posix()
        members.append(
            _Member(
                name=str(m.get("name") or rel or f"member {i + 1}"),
                params=m.get("params") if isinstance(m.get("params"), dict) else {},
                status=str(m.get("status", "unknown")),
                rank=int(as_number(m.get("rank")))
                if math.isfinite(as_number(m.get("rank")))
                else i + 1,
                run=run,
                link=link,
                ranked=math.isfinite(as_number(m.get("rank"))),
                error=str(m.get("error") or "")[:300],
            )
        )
    return meta, _rank(members, str(meta.get("ranked_by", "")))


def _best_fwd(m: _Member) -> float:
    if m.run is None:
        return math.nan
    best = best_evaluation(m.run.evals)
    return as_number(selection_fwd(best)) if best is not None else math.nan


def _rank(members: list[_Member], ranked_by: str) -> list[_Member]:
    """The sweep's own ranks when it wrote them; else by best FWD when ranked by FWD."""
    if "fwd" in ranked_by.lower() and not any(m.ranked for m in members):
        return sorted(members, key=lambda m: (not math.isfinite(_best_fwd(m)), _best_fwd(m)))
    return sorted(members, key=lambda m: m.rank)


def build_sweep_page(root: Path) -> str:
    """The HTML of SWEEP/report.html."""
    meta, members = _load_sweep(root)
    colors = {m.name: PALETTE[i % len(PALETTE)] for i, m in enumerate(members)}
    sections = [
        ("table", "Members", _members_table(members, colors, meta)),
        ("curves", "Curves", _sweep_curves(members, colors)),
        ("samples", "Latest samples", _sweep_samples(members, colors)),
    ]
    sections = [s for s in sections if s[2]]
    done = sum(m.status == "done" for m in members)
    header = (
        f'<div class="title"><h1>{e(root.resolve().name)}</h1>'
        f"{chip(f'{done} of {len(members)} done', 'info')}</div>"
        f'<div class="sub">sweep · ranked by {e(meta.get("ranked_by", "—"))} · '
        f'<span class="path">{e(root)}</span></div>'
    )
    body = "".join(s[2] for s in sections)
    nav = [(a, t) for a, t, _ in sections]
    return render_page(f"cxrgan sweep · {root.resolve().name}", header, nav, body, FILMSTRIP_JS)


def _members_table(members: Sequence[_Member], colors: Mapping[str, str], meta: Mapping) -> str:
    if not members:
        return section("table", "Members", '<p class="muted">sweep.json lists no members.</p>')
    rows = []
    for pos, m in enumerate(members, 1):
        swatch = f'<i class="swatch" style="background:{e(colors[m.name])}"></i>'
        name = f'<a href="{e(m.link)}">{e(m.name)}</a>' if m.link else e(m.name)
        params = " ".join(f"<code>{e(k)}={config_value(v)}</code>" for k, v in m.params.items())
        status_kind = {"done": "ok", "failed": "bad", "running": "info"}.get(m.status, "muted")
        status = chip(m.status, status_kind, m.error)
        if m.name == meta.get("best"):
            name += " " + chip("best", "ok")
        cells = [str(pos), swatch + name, params or "—", status]
        cells += _member_numbers(m)
        rows.append(cells)
    head = ["#", "member", "params", "status", "best FWD", "final FWD"]
    head += ["loss_D", "loss_G", "D(x)", "D(G(z))", "epochs", "diagnosis"]
    note = (
        "loss_D, loss_G, D(x), D(G(z)): medians of each member's latest training records "
        "(as the diagnosis reads them). Click a member for its own report, where written."
    )
    return section("table", "Members", f'<div class="scroll">{data_table(head, rows)}</div>', note)


def _member_numbers(m: _Member) -> list[str]:
    if m.run is None:
        return ['<span class="muted">no run directory</span>'] + [""] * 7
    ev, fwd = m.run.diagnosis.evidence, column(m.run.evals, "fwd")
    finite = fwd[np.isfinite(fwd)]
    last = m.run.train[-1] if m.run.train else {}
    d = m.run.diagnosis
    return [
        e(fmt_value(finite.min())) if len(finite) else "—",
        e(fmt_value(finite[-1])) if len(finite) else "—",
        e(fmt_value(ev.get("loss_d"))),
        e(fmt_value(ev.get("loss_g"))),
        e(fmt_value(ev.get("d_x"))),
        e(fmt_value(ev.get("d_g_z"))),
        e(last.get("epoch", "—")),
        chip(d.title, SEVERITY.get(d.state, "info"), d.hint()),
    ]


def _sweep_curves(members: Sequence[_Member], colors: Mapping[str, str]) -> str:
    runs = [m for m in members if m.run and m.run.train]
    if not runs:
        return ""
    charts = []
    longest = max(len(m.run.train) for m in runs if m.run)
    smoothed = " (smoothed)" if smooth_window(longest) > 1 else ""
    for key, title in (("loss_d", "loss_D"), ("loss_g", "loss_G"), ("d_x", "D(x)")):
        title += smoothed
        series = []
        for m in runs:
            assert m.run is not None
            y = column(m.run.train, key)
            series.append(
                Series(
                    m.name,
                    column(m.run.train, "step"),
                    smooth(y, smooth_window(len(y))),
                    colors[m.name],
                )
            )
        y_range = (0.0, 1.0) if key == "d_x" else (None, None)
        charts.append(line_chart(series, title=title, y_range=y_range))
    fwd_series = [
        Series(
            m.name,
            column(m.run.evals, "step"),
            column(m.run.evals, "fwd"),
            colors[m.name],
            markers=True,
        )
        for m in runs
        if m.run and m.run.evals
    ]
    if fwd_series:
        charts.append(line_chart(fwd_series, title="FWD (lower is better)"))
    return section("curves", "Curves, overlaid", f'<div class="charts">{"".join(charts)}</div>')


def _sweep_samples(members: Sequence[_Member], colors: Mapping[str, str]) -> str:
    cards = []
    reals = [m.run.path / "samples" / "real.png" for m in members if m.run]
    real = next((p for p in reals if p.is_file()), None)
    if real is not None:
        img = load_image(real, SWEEP_IMAGE_WIDTH)
        cards.append(
            f'<figure class="member">{img_tag(img, "real images", "grid")}'
            "<figcaption><strong>real</strong> training images</figcaption></figure>"
        )
    for m in members:
        latest = m.run.latest_grid if m.run else None
        if latest is None:
            continue
        img = load_image(latest[1], SWEEP_IMAGE_WIDTH)
        swatch = f'<i class="swatch" style="background:{e(colors[m.name])}"></i>'
        cards.append(
            f'<figure class="member">{img_tag(img, f"{m.name}, epoch {latest[0]}", "grid")}'
            f"<figcaption>{swatch}<strong>{e(m.name)}</strong> · epoch {latest[0]}"
            "</figcaption></figure>"
        )
    if not cards:
        return ""
    return section("samples", "Latest samples", f'<div class="members">{"".join(cards)}</div>')
