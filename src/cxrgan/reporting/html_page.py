"""HTML building blocks shared by the run and sweep pages: escaping, config values, tables,
chips, sections and the page shell. Numbers become text in `reporting.formatting`."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from cxrgan import __version__
from cxrgan.reporting import thresholds as th
from cxrgan.reporting.formatting import fmt_setting
from cxrgan.reporting.html_assets import CSS
from cxrgan.reporting.html_images import Img

REPORT_NAME = "report.html"  # in each run and sweep directory

# Severity of each diagnosis, for its colour.
SEVERITY = {
    th.HEALTHY: "ok",
    th.TOO_EARLY: "info",
    th.D_OVERFITS: "warn",
    th.D_OVERPOWERS_G: "warn",
    th.D_TOO_WEAK: "warn",
    th.OSCILLATING: "warn",
    th.DIVERGED: "bad",
    th.MODE_COLLAPSE: "bad",
}


def e(value: Any) -> str:
    """Escaped text of any value."""
    return html.escape(str(value), quote=True)


def config_value(value: Any) -> str:
    """A config value as readable, escaped text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) > 40 and " " not in value and "/" not in value:
        return f'<span title="{e(value)}">{e(value[:16])}…</span>'  # a hash: its start is enough
    if isinstance(value, float):
        return e(fmt_setting(value))
    if isinstance(value, dict | list):
        return f"<code>{e(json.dumps(value, ensure_ascii=False))}</code>"
    if value is None:
        return '<span class="muted">—</span>'
    return e(value)


def prose(text: str) -> str:
    """Escaped text in which `backticks` become <code>."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", e(text))


def kv_table(rows: Iterable[tuple[str, str]], cls: str = "kv") -> str:
    body = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>'


def data_table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "data") -> str:
    """A table; `rows` hold HTML already escaped by the caller."""
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def img_tag(img: Img | None, alt: str, cls: str = "") -> str:
    """An <img> of a data URI; a placeholder when the image is missing or unreadable."""
    if img is None:
        return f'<div class="missing">{e(alt)}: not available</div>'
    classes = (cls + (" pixelated" if img.width <= 640 else "")).strip()
    return (
        f'<img src="{img.uri}" alt="{e(alt)}" width="{img.width}" height="{img.height}"'
        f' class="{classes}" loading="eager">'
    )


def chip(text: str, kind: str, title: str = "") -> str:
    """A coloured pill; `kind` is ok, info, warn, bad or muted."""
    tip = f' title="{e(title)}"' if title else ""
    return f'<span class="chip {e(kind)}"{tip}>{e(text)}</span>'


def section(anchor: str, title: str, body: str, note: str = "") -> str:
    """A card of the page; `note` is HTML."""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section class="card" id="{e(anchor)}"><h2>{e(title)}</h2>{note_html}{body}</section>'


def render_page(
    title: str, header: str, nav: Sequence[tuple[str, str]], body: str, script: str
) -> str:
    """The whole document: head with inline CSS, sticky header and nav, body, footer, script."""
    links = "".join(f'<a href="#{e(a)}">{e(t)}</a>' for a, t in nav)
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="generator" content="cxrgan {e(__version__)}">
<title>{e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header class="top">{header}<nav>{links}</nav></header>
<main>
{body}
</main>
<footer>Written by cxrgan {e(__version__)} on {e(stamp)} · self-contained: no network needed to \
view or share it.</footer>
<script>{script}</script>
</body>
</html>
"""
