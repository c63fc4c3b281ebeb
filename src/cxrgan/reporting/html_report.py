"""One self-contained HTML page per run (or per sweep): no network, no CDN, images inline.

`write_report(RUN)` is called by the trainer at the end of every epoch, so it must stay fast:
PNG bytes are embedded as they are (no re-encoding) where possible, and everything derived from
a sample grid (thumbnail, downscaled copy, diversity) is cached in memory by (path, mtime, size)
— a grid never changes once written. Charts are inline SVG drawn from metrics.jsonl, so the page
does not need matplotlib (slow to import) nor the trainer's plots (which may not exist yet).

The page is written to a temporary file and renamed, so a browser never reads a torn page.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan import __version__
from cxrgan.errors import CxrganError
from cxrgan.reporting import diagnose as dg

REPORT_NAME = "report.html"
MAX_FRAMES = 40  # filmstrip frames at most: every k-th epoch beyond that (first and last kept)
FRAME_BUDGET = 6 * 2**20  # PNG bytes for the filmstrip; fewer frames when grids are large
# Earlier filmstrip frames are shown 560 px wide: wider grids (image_size 128+) are downscaled
# to that once (cached); 64-px grids (530 px) go in as they are. The latest grid keeps up to
# LATEST_MAX_WIDTH, for a closer look.
FRAME_MAX_WIDTH = 560
LATEST_MAX_WIDTH = 1100
THUMB_WIDTH = 132
SWEEP_IMAGE_WIDTH = 540
CHART_POINTS = 1200  # longer series are reduced to per-bucket min/max (spikes survive)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Severity of each diagnosis, for its colour.
SEVERITY = {
    dg.HEALTHY: "ok",
    dg.TOO_EARLY: "info",
    dg.D_OVERPOWERS_G: "warn",
    dg.D_TOO_WEAK: "warn",
    dg.OSCILLATING: "warn",
    dg.DIVERGED: "bad",
    dg.MODE_COLLAPSE: "bad",
}
PALETTE = (
    "#1c7ed6", "#e8590c", "#2f9e44", "#c2255c", "#7048e8",
    "#0c8599", "#a61e4d", "#5c940d", "#d6336c", "#495057",
)  # fmt: skip
C_LOSS_D, C_LOSS_G = "#e8590c", "#1c7ed6"  # the tutorial's colours: D orange, G blue
C_DX, C_DGZ1, C_DGZ2 = "#2f9e44", "#c2255c", "#f783ac"
C_FWD, C_KID, C_DIV, C_REF = "#7048e8", "#0c8599", "#0c8599", "#868e96"


def write_report(path: Path) -> Path:
    """Write RUN/report.html (a run has config.json) or SWEEP/report.html (has sweep.json)."""
    path = Path(path)
    if dg.is_run_dir(path):
        page = _run_page(path)
    elif (path / "sweep.json").is_file():
        page = _sweep_page(path)
    else:
        raise CxrganError(
            f"{path} is neither a run directory (no config.json) nor a sweep (no sweep.json)"
        )
    out = path / REPORT_NAME
    _write_atomic(out, page)
    return out


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------------
# Images: data URIs, cached by file identity


_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_MAX = 1024


def _cached(kind: str, path: Path, arg: Any, compute: Callable[[], Any]) -> Any:
    """compute() once per (file version, arg); None when the file is missing or unreadable."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (kind, str(path), st.st_mtime_ns, st.st_size, arg)
    if key not in _CACHE:
        try:
            value = compute()
        except Exception:  # a broken image file raises anything (SyntaxError, zlib.error, ...)
            value = None  # the page shows the rest
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = value
    return _CACHE[key]


@dataclass(frozen=True)
class _Img:
    uri: str
    width: int
    height: int
    nbytes: int


def _png_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, colour type) from a PNG's IHDR, without decoding it."""
    if data[:8] != PNG_MAGIC or len(data) < 26 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"), data[25]


def _encode(im: Any) -> _Img:
    if im.mode not in ("L", "RGB", "RGBA"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    data = buf.getvalue()
    return _Img(_uri(data), im.width, im.height, len(data))


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _image(path: Path, max_width: int | None = None) -> _Img | None:
    """A PNG data URI of the file, as is when it is a PNG that fits, else re-encoded/downscaled."""

    def compute() -> _Img:
        data = path.read_bytes()
        head = _png_header(data)
        # Grayscale/palette PNGs that fit go in as they are (no decode: fast, and byte-exact).
        if head and head[2] in (0, 3, 4) and (max_width is None or head[0] <= max_width):
            _verify_png(data)
            return _Img(_uri(data), head[0], head[1], len(data))
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.mode in ("RGB", "RGBA") and _is_gray(im):
                im = im.convert("L")  # a gray grid saved as RGB: a third of the bytes
            if max_width is not None and im.width > max_width:
                height = max(1, round(im.height * max_width / im.width))
                im = im.resize((max_width, height), Image.Resampling.LANCZOS)
            return _encode(im)

    return _cached("img", path, max_width, compute)


def _verify_png(data: bytes) -> None:
    """Raise ValueError for a PNG that would not display (truncated, corrupt)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()  # checks chunks and CRCs without decoding the pixels
    except Exception as exc:  # Pillow raises many types for a broken file
        raise ValueError(f"broken PNG: {exc}") from exc


def _is_gray(im: Any) -> bool:
    r, g, b = im.split()[:3]
    return r.tobytes() == g.tobytes() == b.tobytes()


def _thumbnail(path: Path, tile: int | None) -> _Img | None:
    """The top-left 4×2 tiles of a sample grid (legible when small), THUMB_WIDTH wide."""

    def compute() -> _Img:
        from PIL import Image

        with Image.open(path) as im:
            im.load()
            if tile:
                step = tile + 2
                im = im.crop((0, 0, min(im.width, 2 + 4 * step), min(im.height, 2 + 2 * step)))
            height = max(1, round(im.height * THUMB_WIDTH / im.width))
            return _encode(im.resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS))

    return _cached("thumb", path, tile, compute)


def _diversity(path: Path, tile: int | None) -> float | None:
    value = _cached("div", path, tile, lambda: dg.grid_diversity(path, image_size=tile))
    return value if isinstance(value, float) and math.isfinite(value) else None


# ------------------------------------------------------------------------------------------------
# A run, loaded


@dataclass
class _Run:
    path: Path
    name: str
    info: dict[str, Any]  # config.json
    train: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    grids: list[tuple[int, Path]]
    tile: int | None
    diversity: list[tuple[int, float]]
    real_diversity: float | None
    diagnosis: dg.Diagnosis
    cfg: dict[str, Any] = field(default_factory=dict)

    @property
    def latest_grid(self) -> tuple[int, Path] | None:
        return self.grids[-1] if self.grids else None


def _load_run(path: Path, name: str | None = None) -> _Run:
    info = dg.read_config(path)
    cfg = info.get("config") if isinstance(info.get("config"), dict) else {}
    train, evals = dg.load_records(path)
    grids = dg.epoch_grids(path)
    tile = dg.image_size_of(path)
    diversity = [(e, d) for e, p in grids if (d := _diversity(p, tile)) is not None]
    real = path / "samples" / "real.png"
    real_div = _diversity(real, tile) if real.is_file() else None
    latest_div = _diversity(grids[-1][1], tile) if grids else None
    diagnosis = dg.diagnose(
        train, diversity=latest_div, quality=evals, reference_diversity=real_div
    )
    return _Run(
        path=path,
        name=name or path.resolve().name,
        info=info,
        train=train,
        evals=evals,
        grids=grids,
        tile=tile,
        diversity=diversity,
        real_diversity=real_div,
        diagnosis=diagnosis,
        cfg=cfg,
    )


# ------------------------------------------------------------------------------------------------
# HTML building blocks


def e(value: Any) -> str:
    """Escaped text of any value."""
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _fmt(value: Any, digits: int = 3) -> str:
    x = _num(value)
    if not math.isfinite(x):
        return "—" if value is None or isinstance(value, str | dict | list) else str(value)
    if x == int(x) and abs(x) < 1e7:
        return f"{int(x):,}".replace(",", " ") if abs(x) >= 10000 else str(int(x))
    if 0 < abs(x) < 0.01:
        return dg.fmt_lr(x)
    return f"{x:.{digits}g}"


def _value(value: Any) -> str:
    """A config value as readable, escaped text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) > 40 and " " not in value and "/" not in value:
        return f'<span title="{e(value)}">{e(value[:16])}…</span>'  # a hash: its start is enough
    if isinstance(value, float):
        return e(dg.fmt_lr(value) if 0 < abs(value) < 0.01 else f"{value:g}")
    if isinstance(value, dict | list):
        return f"<code>{e(json.dumps(value, ensure_ascii=False))}</code>"
    if value is None:
        return '<span class="muted">—</span>'
    return e(value)


def _prose(text: str) -> str:
    """Escaped text in which `backticks` become <code>."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", e(text))


def _kv_table(rows: Iterable[tuple[str, str]], cls: str = "kv") -> str:
    body = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "data") -> str:
    """A table; `rows` hold HTML already escaped by the caller."""
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _img(img: _Img | None, alt: str, cls: str = "") -> str:
    if img is None:
        return f'<div class="missing">{e(alt)}: not available</div>'
    classes = (cls + (" pixelated" if img.width <= 640 else "")).strip()
    return (
        f'<img src="{img.uri}" alt="{e(alt)}" width="{img.width}" height="{img.height}"'
        f' class="{classes}" loading="eager">'
    )


def _chip(text: str, kind: str, title: str = "") -> str:
    tip = f' title="{e(title)}"' if title else ""
    return f'<span class="chip {e(kind)}"{tip}>{e(text)}</span>'


def _section(anchor: str, title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section class="card" id="{e(anchor)}"><h2>{e(title)}</h2>{note_html}{body}</section>'


def _page(title: str, header: str, nav: Sequence[tuple[str, str]], body: str, script: str) -> str:
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
<style>{_CSS}</style>
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


# ------------------------------------------------------------------------------------------------
# Charts: inline SVG


@dataclass
class _Series:
    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    width: float = 2.0
    opacity: float = 1.0
    dash: str = ""
    legend: bool = True
    markers: bool = False


@dataclass
class _VLine:
    x: float
    label: str
    color: str = C_REF


W, H = 600, 250
PAD_L, PAD_R, PAD_T, PAD_B = 52, 14, 12, 34


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks


def _tick_label(v: float) -> str:
    if abs(v) >= 10000:
        return f"{v / 1000:g}k"
    if v != 0 and abs(v) < 0.01:
        return dg.fmt_lr(v)
    return f"{v:g}"


def _chart(
    series: Sequence[_Series],
    *,
    title: str,
    x_label: str = "step",
    y_range: tuple[float | None, float | None] = (None, None),
    hlines: Sequence[tuple[float, str]] = (),
    vlines: Sequence[_VLine] = (),
    note: str = "",
) -> str:
    """A line chart as a <figure> holding an HTML legend and an inline SVG."""
    live = [s for s in series if np.isfinite(s.y).any()]
    if not live:
        return ""
    xs = np.concatenate([s.x[np.isfinite(s.x)] for s in live])
    x0, x1 = float(xs.min()), float(xs.max())
    if x1 <= x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = _y_range(live, y_range)

    def px(x: np.ndarray) -> np.ndarray:
        return PAD_L + (x - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

    def py(y: np.ndarray) -> np.ndarray:
        return PAD_T + (1 - (np.clip(y, y0, y1) - y0) / (y1 - y0)) * (H - PAD_T - PAD_B)

    parts = [_axes(x0, x1, y0, y1, px, py, x_label)]
    for value, label in hlines:
        if y0 <= value <= y1:
            yy = float(py(np.array([value]))[0])
            parts.append(
                f'<line class="ref" x1="{PAD_L}" x2="{W - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
                f'<text class="reflabel" x="{W - PAD_R - 4}" y="{yy - 4:.1f}" '
                f'text-anchor="end">{e(label)}</text>'
            )
    for v in vlines:
        if x0 <= v.x <= x1:
            xx = float(px(np.array([v.x]))[0])
            parts.append(
                f'<line class="vref" stroke="{e(v.color)}" x1="{xx:.1f}" x2="{xx:.1f}" '
                f'y1="{PAD_T}" y2="{H - PAD_B}"><title>{e(v.label)}</title></line>'
                f'<text class="vlabel" fill="{e(v.color)}" x="{xx + 3:.1f}" y="{PAD_T + 10}">'
                f"{e(v.label)}</text>"
            )
    for s in live:
        parts.append(_polyline(s, px, py))
    legend = "".join(
        f'<span><i style="background:{e(s.color)}"></i>{e(s.label)}</span>'
        for s in live
        if s.legend
    )
    note_html = f'<div class="chartnote">{e(note)}</div>' if note else ""
    return (
        f'<figure class="chart"><figcaption>{e(title)}</figcaption>'
        f'<div class="legend">{legend}</div>'
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{e(title)}">{"".join(parts)}</svg>'
        f"{note_html}</figure>"
    )


def _y_range(
    live: Sequence[_Series], fixed: tuple[float | None, float | None]
) -> tuple[float, float]:
    """Fit the bold lines; faint raw lines are clipped at their 99th percentile (GAN spikes)."""
    tops, bottoms = [], []
    for s in live:
        y = s.y[np.isfinite(s.y)]
        tops.append(float(np.percentile(y, 99)) if s.opacity < 1 else float(y.max()))
        bottoms.append(float(np.percentile(y, 1)) if s.opacity < 1 else float(y.min()))
    lo = fixed[0] if fixed[0] is not None else min(bottoms)
    hi = fixed[1] if fixed[1] is not None else max(tops)
    if fixed[1] is None:
        hi += 0.06 * (hi - lo) if hi > lo else 1.0
    if fixed[0] is None and lo > 0 and lo < 0.35 * hi:
        lo = 0.0  # losses: show zero when it is near
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _axes(x0: float, x1: float, y0: float, y1: float, px: Any, py: Any, x_label: str) -> str:
    out = [
        f'<rect class="plot" x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
        f'height="{H - PAD_T - PAD_B}"/>'
    ]
    for t in _nice_ticks(y0, y1):
        yy = float(py(np.array([t]))[0])
        out.append(
            f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text class="tick" x="{PAD_L - 6}" y="{yy + 3.5:.1f}" text-anchor="end">'
            f"{e(_tick_label(t))}</text>"
        )
    x_ticks = _nice_ticks(x0, x1, 6)
    if x_label in ("step", "epoch"):  # counts: no tick at 1.5 epochs
        x_ticks = [t for t in x_ticks if t == int(t)]
    for t in x_ticks:
        xx = float(px(np.array([t]))[0])
        out.append(
            f'<line class="grid" x1="{xx:.1f}" x2="{xx:.1f}" y1="{PAD_T}" y2="{H - PAD_B}"/>'
            f'<text class="tick" x="{xx:.1f}" y="{H - PAD_B + 14}" text-anchor="middle">'
            f"{e(_tick_label(t))}</text>"
        )
    out.append(
        f'<text class="axlabel" x="{(PAD_L + W - PAD_R) / 2:.0f}" y="{H - 4}" '
        f'text-anchor="middle">{e(x_label)}</text>'
    )
    return "".join(out)


def _polyline(s: _Series, px: Any, py: Any) -> str:
    x, y = _decimate(s.x, s.y, CHART_POINTS)
    ok = np.isfinite(x) & np.isfinite(y)
    X, Y = px(x), py(y)
    style = (
        f'fill="none" stroke="{e(s.color)}" stroke-width="{s.width}" '
        f'stroke-opacity="{s.opacity}" stroke-linejoin="round" stroke-linecap="round"'
    )
    if s.dash:
        style += f' stroke-dasharray="{e(s.dash)}"'
    out = []
    for seg in _segments(ok):
        pts = " ".join(f"{X[i]:.1f},{Y[i]:.1f}" for i in seg)
        if len(seg) > 1:
            out.append(f'<polyline {style} points="{pts}"/>')
    if s.markers or ok.sum() == 1:
        out += [
            f'<circle cx="{X[i]:.1f}" cy="{Y[i]:.1f}" r="3" fill="{e(s.color)}">'
            f"<title>{e(s.label)}: {e(_fmt(y[i]))} at {e(_fmt(x[i]))}</title></circle>"
            for i in np.flatnonzero(ok)
        ]
    return "".join(out)


def _segments(ok: np.ndarray) -> list[np.ndarray]:
    """Runs of consecutive finite points (a NaN breaks the line)."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return []
    return np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)


def _decimate(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ~max_points points: per bucket the min and the max, in x order."""
    if len(x) <= max_points:
        return x, y
    xs, ys = [], []
    for bx, by in zip(
        np.array_split(x, max_points // 2), np.array_split(y, max_points // 2), strict=True
    ):
        ok = np.isfinite(by)
        if not ok.any():
            xs.append(bx[0])
            ys.append(math.nan)
            continue
        i, j = sorted((int(np.nanargmin(by)), int(np.nanargmax(by))))
        xs += [bx[i], bx[j]]
        ys += [by[i], by[j]]
    return np.array(xs), np.array(ys)


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average that skips non-finite values (and keeps them as gaps)."""
    if window <= 1 or len(y) < 3:
        return y.copy()
    ok = np.isfinite(y)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, y, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~ok] = np.nan
    return out


def _smooth_window(n: int) -> int:
    return max(1, n // 25) | 1


def _col(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([_num(r.get(key)) for r in records], dtype=np.float64)


def _raw_and_smooth(x: np.ndarray, y: np.ndarray, label: str, color: str) -> list[_Series]:
    w = _smooth_window(len(y))
    if w == 1:
        return [_Series(label, x, y, color)]
    return [
        _Series(label + " (raw)", x, y, color, width=1.0, opacity=0.28, legend=False),
        _Series(label, x, _smooth(y, w), color),
    ]


def _lr_changes(train: Sequence[Mapping[str, Any]]) -> list[_VLine]:
    """Where the learning rates changed (a resume with new rates, or --balance)."""
    out = []
    for prev, cur in itertools.pairwise(train):
        a, b = (prev.get("lr_g"), prev.get("lr_d")), (cur.get("lr_g"), cur.get("lr_d"))
        if a != b and None not in a + b:
            out.append(_VLine(_num(cur.get("step")), f"lr → G {_fmt(b[0])}, D {_fmt(b[1])}"))
    return out


def _nonfinite_line(train: Sequence[Mapping[str, Any]]) -> list[_VLine]:
    for r in train:
        vals = [_num(r.get(k)) for k in ("loss_d", "loss_g") if k in r]
        if any(not math.isfinite(v) for v in vals):
            return [_VLine(_num(r.get("step")), "NaN/inf", "#cf222e")]
    return []


# ------------------------------------------------------------------------------------------------
# The run page


def _run_page(path: Path) -> str:
    run = _load_run(path)
    sections = [
        ("diagnosis", "Diagnosis", _diagnosis_section(run)),
        ("curves", "Curves", _curves_section(run)),
        ("samples", "Samples", _samples_section(run)),
        ("real", "Real vs generated", _real_vs_generated(run)),
        ("memorisation", "Memorisation", _memorisation_section(run)),
        ("config", "Configuration", _config_section(run)),
        ("history", "History", _history_section(run)),
    ]
    sections = [s for s in sections if s[2]]
    body = _synthetic_banner(run.info) + "".join(s[2] for s in sections)
    header = _run_header(run)
    return _page(f"cxrgan · {run.name}", header, [(a, t) for a, t, _ in sections], body, _JS)


def _run_header(run: _Run) -> str:
    info, last = run.info, (run.train[-1] if run.train else {})
    stopped = info.get("stopped") if isinstance(info.get("stopped"), dict) else None
    if stopped and _num(stopped.get("step")) >= _num(last.get("step", 0)):
        reason = str(stopped.get("reason", "stopped"))
        kind = "ok" if reason == "completed" else "warn"
        status = _chip(f"{reason} · epoch {stopped.get('epoch', '?')}", kind)
    else:
        status = _chip("in progress" if run.train else "no records yet", "info")
    diag = run.diagnosis
    bits = [
        f"cxrgan {info.get('cxrgan_version', '?')}",
        f"torch {info.get('torch_version', '?')}",
        f"device {info.get('device', '?')}",
    ]
    if last:
        bits.append(f"epoch {last.get('epoch', '?')} · step {_fmt(last.get('step'))}")
    return (
        f'<div class="title"><h1>{e(run.name)}</h1>{status}'
        f"{_chip(diag.title, SEVERITY.get(diag.state, 'info'), diag.hint())}</div>"
        f'<div class="sub">{e(" · ".join(bits))} · <span class="path">{e(run.path)}</span></div>'
    )


def _synthetic_banner(info: Mapping[str, Any]) -> str:
    dataset = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    if not dataset.get("synthetic"):
        return ""
    what = dataset.get("note") or f"built-in synthetic images ({dataset.get('kind', '?')})"
    return (
        '<div class="banner"><strong>Synthetic demo data.</strong> This run trained on '
        f"{e(what)}, not on chest X-rays: its samples and scores show that the pipeline works, "
        "not what a model of real X-rays would do.</div>"
    )


_EVIDENCE_LABELS = {
    "records": "training records judged",
    "step": "latest step",
    "loss_d": "loss_D (recent median)",
    "loss_g": "loss_G (recent median)",
    "d_x": "D(x) (recent median)",
    "d_g_z": "D(G(z)) (recent median)",
    "loss_d_trend": "loss_D trend",
    "loss_g_trend": "loss_G trend",
    "swing_d": "loss_D swing",
    "swing_g": "loss_G swing",
    "reversals_d": "loss_D reversals",
    "reversals_g": "loss_G reversals",
    "weak_fraction": "share with D(x) ≈ D(G(z))",
    "nonfinite": "records with NaN/inf",
    "lr_g": "lr G",
    "lr_d": "lr D",
    "diversity": "sample diversity (latest)",
    "real_diversity": "diversity of real images",
    "fwd_latest": "FWD (latest)",
    "fwd_best": "FWD (best)",
    "min_records": "records needed",
}


# Shown first; the rest of the evidence is folded under "all numbers".
_KEY_EVIDENCE = (
    *("loss_d", "loss_g", "d_x", "d_g_z", "lr_g", "lr_d"),
    *("diversity", "real_diversity", "fwd_latest", "fwd_best"),
)


def _evidence_table(items: Sequence[tuple[str, float]]) -> str:
    return _kv_table(((_EVIDENCE_LABELS.get(k, k), e(_fmt(v))) for k, v in items), "kv compact")


def _diagnosis_section(run: _Run) -> str:
    d = run.diagnosis
    sev = SEVERITY.get(d.state, "info")
    reasons = "".join(f"<li>{e(r)}</li>" for r in d.reasons)
    also = ""
    if d.secondary:
        chips = " ".join(_chip(dg.TITLES.get(s, s), SEVERITY.get(s, "info")) for s in d.secondary)
        also = f'<p class="also">Also applies: {chips}</p>'
    key = [(k, v) for k, v in d.evidence.items() if k in _KEY_EVIDENCE]
    rest = [(k, v) for k, v in d.evidence.items() if k not in _KEY_EVIDENCE]
    evidence = _evidence_table(key or rest)
    if key and rest:
        evidence += f"<details><summary>all numbers</summary>{_evidence_table(rest)}</details>"
    body = (
        f'<div class="diag {sev}"><div class="diag-main">'
        f'<div class="diag-title">{e(d.title)} <code>{e(d.state)}</code></div>'
        f'<p class="advice">{_prose(d.advice)}</p>'
        f'<ul class="reasons">{reasons}</ul>{also}'
        f'<pre class="hint">{e(d.hint())}</pre></div>'
        f'<div class="diag-evidence">{evidence}</div></div>'
    )
    note = (
        "Read from the latest training records of metrics.jsonl; thresholds are listed in "
        "<code>cxrgan.reporting.diagnose.Thresholds</code>. <code>cxrgan diagnose RUN</code> "
        "prints the same."
    )
    return _section("diagnosis", "Diagnosis", body, note)


def _curves_section(run: _Run) -> str:
    charts = [_loss_chart(run), _d_chart(run), *_quality_charts(run), _diversity_chart(run)]
    charts = [c for c in charts if c]
    if not charts:
        return _section("curves", "Curves", '<p class="muted">No training records yet.</p>')
    extra = _trainer_plots(run.path)
    return _section("curves", "Curves", f'<div class="charts">{"".join(charts)}</div>{extra}')


def _loss_chart(run: _Run) -> str:
    if not run.train:
        return ""
    x = _col(run.train, "step")
    series = _raw_and_smooth(x, _col(run.train, "loss_d"), "loss_D", C_LOSS_D)
    series += _raw_and_smooth(x, _col(run.train, "loss_g"), "loss_G", C_LOSS_G)
    vlines = _lr_changes(run.train) + _nonfinite_line(run.train)
    return _chart(series, title="Losses", vlines=vlines)


def _d_chart(run: _Run) -> str:
    if not run.train:
        return ""
    x = _col(run.train, "step")
    series = _raw_and_smooth(x, _col(run.train, "d_x"), "D(x)", C_DX)
    series += _raw_and_smooth(x, _col(run.train, "d_g_z1"), "D(G(z)) before D step", C_DGZ1)
    series += _raw_and_smooth(x, _col(run.train, "d_g_z2"), "D(G(z)) after", C_DGZ2)
    return _chart(
        series,
        title="Discriminator outputs",
        y_range=(0.0, 1.0),
        hlines=[(0.5, "0.5: D cannot tell")],
        vlines=_lr_changes(run.train),
    )


def _quality_charts(run: _Run) -> list[str]:
    if not run.evals:
        return []
    x = _col(run.evals, "step")
    fwd = _col(run.evals, "fwd")
    out = [
        _chart(
            [_Series("FWD", x, fwd, C_FWD, markers=True)],
            title="Quality: FWD (lower is better)",
            note=f"best {_fmt(np.nanmin(fwd))}" if np.isfinite(fwd).any() else "",
        )
    ]
    kid = _col(run.evals, "kid_mean")
    if np.isfinite(kid).any():
        out.append(
            _chart([_Series("KID", x, kid, C_KID, markers=True)], title="Quality: KID (mean)")
        )
    return out


def _diversity_chart(run: _Run) -> str:
    if len(run.diversity) < 2:
        return ""
    epochs = np.array([ep for ep, _ in run.diversity], dtype=float)
    values = np.array([v for _, v in run.diversity])
    series = [_Series("generated", epochs, values, C_DIV, markers=True)]
    hlines = []
    if run.real_diversity is not None:
        hlines.append((run.real_diversity, f"real images {_fmt(run.real_diversity)}"))
    t = dg.DEFAULT_THRESHOLDS
    limit = t.collapse_ratio * run.real_diversity if run.real_diversity else t.collapse_diversity
    hlines.append((limit, f"mode collapse ≤ {_fmt(limit)}"))
    return _chart(
        series,
        title="Sample diversity (fixed noise)",
        x_label="epoch",
        y_range=(0.0, 1.05),
        hlines=hlines,
    )


def _trainer_plots(path: Path) -> str:
    figures = []
    for name in ("losses.png", "quality.png"):
        img = _image(path / "plots" / name)
        if img is not None:
            figures.append(f"<figure>{_img(img, 'plots/' + name, 'plot')}</figure>")
    if not figures:
        return ""
    return (
        '<details class="plots"><summary>The trainer\'s matplotlib plots (plots/*.png)</summary>'
        f'<div class="plotrow">{"".join(figures)}</div></details>'
    )


def _pick_frames(grids: Sequence[tuple[int, Path]]) -> list[tuple[int, Path]]:
    """At most MAX_FRAMES evenly spaced grids (first and last kept), within FRAME_BUDGET."""
    if not grids:
        return []
    sizes = [p.stat().st_size if p.is_file() else 0 for _, p in grids]
    mean = max(1.0, sum(sizes) / len(sizes))
    limit = int(max(2, min(MAX_FRAMES, FRAME_BUDGET // mean)))
    if len(grids) <= limit:
        return list(grids)
    idx = np.unique(np.round(np.linspace(0, len(grids) - 1, limit)).astype(int))
    return [grids[i] for i in idx]


def _samples_section(run: _Run) -> str:
    chosen = _pick_frames(run.grids)
    picked = [
        (ep, p, _image(p, LATEST_MAX_WIDTH if i == len(chosen) - 1 else FRAME_MAX_WIDTH))
        for i, (ep, p) in enumerate(chosen)
    ]
    shown_frames = [(ep, p, img) for ep, p, img in picked if img is not None]
    if not shown_frames:
        return _section("samples", "Samples", '<p class="muted">No sample grids yet.</p>')
    frames = [(ep, p) for ep, p, _ in shown_frames]
    images = [img for _, _, img in shown_frames]
    last_epoch, last_img = frames[-1][0], images[-1]
    thumbs = "".join(
        f'<button type="button" class="thumb" data-i="{i}" title="epoch {ep}">'
        f"{_img(_thumbnail(p, run.tile), f'epoch {ep}')}<span>{ep}</span></button>"
        for i, (ep, p) in enumerate(frames)
    )
    total = run.grids[-1][0]
    shown = "" if len(frames) == len(run.grids) else f" ({len(frames)} of {len(run.grids)} shown)"
    n = len(frames)
    body = (
        '<div class="film" id="film">'
        f'<figure class="frame">{_img(last_img, f"samples at epoch {last_epoch}", "grid")}'
        f'<figcaption id="frame-cap">epoch {last_epoch} of {total}</figcaption></figure>'
        '<div class="controls">'
        '<button type="button" id="prev" aria-label="previous epoch">◀</button>'
        f'<input type="range" id="frame-range" min="0" max="{n - 1}" value="{n - 1}" step="1" '
        'aria-label="epoch">'
        '<button type="button" id="next" aria-label="next epoch">▶</button>'
        '<button type="button" id="play">play</button></div>'
        f'<div class="strip" id="strip">{thumbs}</div></div>'
        f'<script type="application/json" id="frames-data">{_frames_json(frames, images)}'
        "</script>"
    )
    note = (
        "The same fixed noise after every epoch: drag the slider, use ← →, or click a "
        f"thumbnail{e(shown)}. Thumbnails show the top-left 8 images."
    )
    return _section("samples", "Samples across epochs", body, note)


def _frames_json(frames: Sequence[tuple[int, Path]], images: Sequence[_Img]) -> str:
    """[{"epoch": 1, "src": "data:..."}, ..., {"epoch": N, "src": null}] — built by hand: the
    URIs are base64 (nothing to escape) and json.dumps of megabytes costs a tenth of a second.
    The last frame is the <img> already on the page, so its bytes are not repeated."""
    items = [
        f'{{"epoch":{int(ep)},"src":"{img.uri}"}}'
        for (ep, _), img in zip(frames, images, strict=True)
    ]
    items[-1] = f'{{"epoch":{int(frames[-1][0])},"src":null}}'
    return "[" + ",".join(items) + "]"


def _real_vs_generated(run: _Run) -> str:
    real = run.path / "samples" / "real.png"
    latest = next(
        ((ep, p, img) for ep, p in reversed(run.grids) if (img := _image(p, LATEST_MAX_WIDTH))),
        None,
    )
    if not real.is_file() and latest is None:
        return ""
    left = _img(_image(real, LATEST_MAX_WIDTH), "real training images", "grid")
    right = (
        _img(latest[2], f"generated at epoch {latest[0]}", "grid")
        if latest
        else '<div class="missing">no generated samples yet</div>'
    )
    cap_right = f"generated, epoch {latest[0]}" if latest else "generated"
    div_real = f" · diversity {_fmt(run.real_diversity)}" if run.real_diversity else ""
    div_gen = f" · diversity {_fmt(run.diversity[-1][1])}" if run.diversity else ""
    body = (
        '<div class="pair">'
        f"<figure>{left}<figcaption>real (samples/real.png){e(div_real)}</figcaption></figure>"
        f"<figure>{right}<figcaption>{e(cap_right)}{e(div_gen)}</figcaption></figure></div>"
    )
    return _section("real", "Real vs generated", body)


def _memorisation_section(run: _Run) -> str:
    img = _image(run.path / "memorisation.png", 2 * LATEST_MAX_WIDTH)
    if img is None:
        return ""
    note = (
        "Each generated image beside its closest training image (written by "
        "<code>cxrgan evaluate</code>). Near-identical pairs mean the generator copies its "
        "training data."
    )
    shown = min(2 * img.width, 1100) if img.width <= 640 else img.width  # small tiles: enlarge
    body = (
        f'<figure class="memo" style="max-width:{shown}px">'
        f"{_img(img, 'closest generated/training pairs')}</figure>"
    )
    return _section("memorisation", "Memorisation check", body, note)


def _config_section(run: _Run) -> str:
    info = run.info
    top = [
        (k, _value(info[k]))
        for k in ("cxrgan_version", "torch_version", "python_version", "device")
        if k in info
    ]
    cfg_rows = [(str(k), _value(v)) for k, v in run.cfg.items()]
    dataset = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    data_rows = [(str(k), _value(v)) for k, v in dataset.items()]
    blocks = [
        f"<div><h3>Training settings</h3>{_kv_table(cfg_rows)}</div>" if cfg_rows else "",
        f"<div><h3>Dataset</h3>{_kv_table(data_rows)}</div>" if data_rows else "",
        f"<div><h3>Software</h3>{_kv_table(top)}</div>" if top else "",
    ]
    body = f'<div class="cols">{"".join(blocks)}</div>'
    return _section("config", "Configuration", body, "From config.json.")


def _history_section(run: _Run) -> str:
    history = run.info.get("history")
    rows = []
    for h in history if isinstance(history, list) else []:
        if not isinstance(h, dict):
            continue
        changes = h.get("changes") if isinstance(h.get("changes"), dict) else {}
        rows.append(
            [
                e(h.get("time", "")),
                f"<strong>{e(h.get('event', ''))}</strong>",
                e(h.get("epoch", "")),
                e(_fmt(h.get("step"))),
                _changes(changes),
            ]
        )
    stopped = run.info.get("stopped")
    if isinstance(stopped, dict):
        reason = f"<strong>stopped</strong>: {e(stopped.get('reason', ''))}"
        rows.append(["", reason, e(stopped.get("epoch", "")), e(_fmt(stopped.get("step"))), ""])
    if not rows:
        return ""
    table = _table(["time", "event", "epoch", "step", "changes"], rows)
    return _section("history", "History", table, "Starts, resumes and what each one changed.")


def _changes(changes: Mapping[str, Any]) -> str:
    if not changes:
        return '<span class="muted">—</span>'
    items = []
    for key, change in changes.items():
        if isinstance(change, list | tuple) and len(change) == 2:
            items.append(f"<code>{e(key)}</code> {_value(change[0])} → {_value(change[1])}")
        else:
            items.append(f"<code>{e(key)}</code> {_value(change)}")
    return "<br>".join(items)


# ------------------------------------------------------------------------------------------------
# The sweep page


@dataclass
class _Member:
    name: str
    params: dict[str, Any]
    status: str
    rank: int
    run: _Run | None
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
        if run_path is not None and dg.is_run_dir(run_path):
            run = _load_run(run_path, str(m.get("name", run_path.name)))
        link = None
        if run_path is not None and (run_path / REPORT_NAME).is_file():
            link = Path(str(rel), REPORT_NAME).as_posix()
        members.append(
            _Member(
                name=str(m.get("name") or rel or f"member {i + 1}"),
                params=m.get("params") if isinstance(m.get("params"), dict) else {},
                status=str(m.get("status", "unknown")),
                rank=int(_num(m.get("rank"))) if math.isfinite(_num(m.get("rank"))) else i + 1,
                run=run,
                link=link,
                ranked=math.isfinite(_num(m.get("rank"))),
                error=str(m.get("error") or "")[:300],
            )
        )
    return meta, _rank(members, str(meta.get("ranked_by", "")))


def _best_fwd(m: _Member) -> float:
    if m.run is None:
        return math.nan
    fwd = _col(m.run.evals, "fwd")
    return float(np.nanmin(fwd)) if np.isfinite(fwd).any() else math.nan


def _rank(members: list[_Member], ranked_by: str) -> list[_Member]:
    """The sweep's own ranks when it wrote them; else by best FWD when ranked by FWD."""
    if "fwd" in ranked_by.lower() and not any(m.ranked for m in members):
        return sorted(members, key=lambda m: (not math.isfinite(_best_fwd(m)), _best_fwd(m)))
    return sorted(members, key=lambda m: m.rank)


def _sweep_page(root: Path) -> str:
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
        f"{_chip(f'{done} of {len(members)} done', 'info')}</div>"
        f'<div class="sub">sweep · ranked by {e(meta.get("ranked_by", "—"))} · '
        f'<span class="path">{e(root)}</span></div>'
    )
    body = "".join(s[2] for s in sections)
    nav = [(a, t) for a, t, _ in sections]
    return _page(f"cxrgan sweep · {root.resolve().name}", header, nav, body, _JS)


def _members_table(members: Sequence[_Member], colors: Mapping[str, str], meta: Mapping) -> str:
    if not members:
        return _section("table", "Members", '<p class="muted">sweep.json lists no members.</p>')
    rows = []
    for pos, m in enumerate(members, 1):
        swatch = f'<i class="swatch" style="background:{e(colors[m.name])}"></i>'
        name = f'<a href="{e(m.link)}">{e(m.name)}</a>' if m.link else e(m.name)
        params = " ".join(f"<code>{e(k)}={_value(v)}</code>" for k, v in m.params.items())
        status_kind = {"done": "ok", "failed": "bad", "running": "info"}.get(m.status, "muted")
        status = _chip(m.status, status_kind, m.error)
        if m.name == meta.get("best"):
            name += " " + _chip("best", "ok")
        cells = [str(pos), swatch + name, params or "—", status]
        cells += _member_numbers(m)
        rows.append(cells)
    head = ["#", "member", "params", "status", "best FWD", "final FWD"]
    head += ["loss_D", "loss_G", "D(x)", "D(G(z))", "epochs", "diagnosis"]
    note = (
        "loss_D, loss_G, D(x), D(G(z)): medians of each member's latest training records "
        "(as the diagnosis reads them). Click a member for its own report, where written."
    )
    return _section("table", "Members", f'<div class="scroll">{_table(head, rows)}</div>', note)


def _member_numbers(m: _Member) -> list[str]:
    if m.run is None:
        return ['<span class="muted">no run directory</span>'] + [""] * 7
    ev, fwd = m.run.diagnosis.evidence, _col(m.run.evals, "fwd")
    finite = fwd[np.isfinite(fwd)]
    last = m.run.train[-1] if m.run.train else {}
    d = m.run.diagnosis
    return [
        e(_fmt(finite.min())) if len(finite) else "—",
        e(_fmt(finite[-1])) if len(finite) else "—",
        e(_fmt(ev.get("loss_d"))),
        e(_fmt(ev.get("loss_g"))),
        e(_fmt(ev.get("d_x"))),
        e(_fmt(ev.get("d_g_z"))),
        e(last.get("epoch", "—")),
        _chip(d.title, SEVERITY.get(d.state, "info"), d.hint()),
    ]


def _sweep_curves(members: Sequence[_Member], colors: Mapping[str, str]) -> str:
    runs = [m for m in members if m.run and m.run.train]
    if not runs:
        return ""
    charts = []
    longest = max(len(m.run.train) for m in runs if m.run)
    smoothed = " (smoothed)" if _smooth_window(longest) > 1 else ""
    for key, title in (("loss_d", "loss_D"), ("loss_g", "loss_G"), ("d_x", "D(x)")):
        title += smoothed
        series = []
        for m in runs:
            assert m.run is not None
            y = _col(m.run.train, key)
            series.append(
                _Series(
                    m.name,
                    _col(m.run.train, "step"),
                    _smooth(y, _smooth_window(len(y))),
                    colors[m.name],
                )
            )
        y_range = (0.0, 1.0) if key == "d_x" else (None, None)
        charts.append(_chart(series, title=title, y_range=y_range))
    fwd_series = [
        _Series(
            m.name,
            _col(m.run.evals, "step"),
            _col(m.run.evals, "fwd"),
            colors[m.name],
            markers=True,
        )
        for m in runs
        if m.run and m.run.evals
    ]
    if fwd_series:
        charts.append(_chart(fwd_series, title="FWD (lower is better)"))
    return _section("curves", "Curves, overlaid", f'<div class="charts">{"".join(charts)}</div>')


def _sweep_samples(members: Sequence[_Member], colors: Mapping[str, str]) -> str:
    cards = []
    reals = [m.run.path / "samples" / "real.png" for m in members if m.run]
    real = next((p for p in reals if p.is_file()), None)
    if real is not None:
        img = _image(real, SWEEP_IMAGE_WIDTH)
        cards.append(
            f'<figure class="member">{_img(img, "real images", "grid")}'
            "<figcaption><strong>real</strong> training images</figcaption></figure>"
        )
    for m in members:
        latest = m.run.latest_grid if m.run else None
        if latest is None:
            continue
        img = _image(latest[1], SWEEP_IMAGE_WIDTH)
        swatch = f'<i class="swatch" style="background:{e(colors[m.name])}"></i>'
        cards.append(
            f'<figure class="member">{_img(img, f"{m.name}, epoch {latest[0]}", "grid")}'
            f"<figcaption>{swatch}<strong>{e(m.name)}</strong> · epoch {latest[0]}"
            "</figcaption></figure>"
        )
    if not cards:
        return ""
    return _section("samples", "Latest samples", f'<div class="members">{"".join(cards)}</div>')


# ------------------------------------------------------------------------------------------------
# Inline CSS and JS

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--bg:#f5f6f8;--card:#fff;--border:#d8dee4;--accent:#0969da;
--ok:#1a7f37;--ok-bg:#e9f7ee;--warn:#9a6700;--warn-bg:#fff6dd;--bad:#cf222e;--bad-bg:#ffebe9;
--info:#0969da;--info-bg:#e8f1fe}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:var(--fg);background:var(--bg)}
header.top{background:var(--card);border-bottom:1px solid var(--border);padding:18px 32px 0;
position:sticky;top:0;z-index:5}
header .title{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
h1{font-size:22px;margin:0;font-weight:650;letter-spacing:-.01em}
header .sub{color:var(--muted);font-size:12.5px;margin:4px 0 10px}
header .path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
nav{display:flex;gap:2px;flex-wrap:wrap}
nav a{color:var(--muted);text-decoration:none;padding:6px 12px;border-bottom:2px solid
transparent;font-weight:500}
nav a:hover{color:var(--fg);border-bottom-color:var(--accent)}
main{max-width:1280px;margin:0 auto;padding:8px 32px 32px}
footer{max-width:1280px;margin:0 auto;padding:0 32px 32px;color:var(--muted);font-size:12px}
section.card{background:var(--card);border:1px solid var(--border);border-radius:10px;
padding:18px 22px;margin:18px 0;scroll-margin-top:110px}
h2{font-size:16px;margin:0 0 4px;font-weight:650}
h3{font-size:13px;margin:0 0 6px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em}
p.note{color:var(--muted);margin:0 0 14px;font-size:13px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
background:#f0f2f4;border-radius:4px;padding:1px 5px}
.muted{color:var(--muted)}
.chip{display:inline-block;padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid currentColor;white-space:nowrap}
.chip.ok{color:var(--ok);background:var(--ok-bg)}.chip.warn{color:var(--warn);
background:var(--warn-bg)}.chip.bad{color:var(--bad);background:var(--bad-bg)}
.chip.info{color:var(--info);background:var(--info-bg)}.chip.muted{color:var(--muted)}
.banner{margin:18px 0 0;padding:12px 16px;border-radius:10px;background:var(--warn-bg);
border:1px solid #e6cf8b;color:#5c4400}
.diag{display:grid;grid-template-columns:minmax(0,1.6fr) minmax(260px,1fr);gap:24px;
border-left:5px solid var(--info);padding-left:18px}
.diag.ok{border-left-color:var(--ok)}.diag.warn{border-left-color:#d4a72c}
.diag.bad{border-left-color:var(--bad)}
.diag-title{font-size:19px;font-weight:650;margin-bottom:6px}
.diag-title code{font-size:11px;vertical-align:middle;color:var(--muted)}
.advice{font-size:15px;margin:0 0 10px}
.reasons{margin:0 0 10px;padding-left:20px;color:var(--muted)}
pre.hint{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;border:1px solid
var(--border);border-radius:6px;padding:8px 10px;font-size:12px;margin:8px 0 0}
.also{margin:6px 0}
table{border-collapse:collapse;font-size:13px}
table.kv th{text-align:left;font-weight:500;color:var(--muted);padding:3px 14px 3px 0;
vertical-align:top;white-space:nowrap}
table.kv td{padding:3px 0;font-variant-numeric:tabular-nums;word-break:break-word}
table.kv.compact{width:100%}table.kv.compact td{text-align:right}
table.kv.compact tr+tr{border-top:1px solid #eef1f4}
table.data{width:100%}
table.data th{text-align:left;font-weight:600;color:var(--muted);border-bottom:1px solid
var(--border);padding:6px 10px;white-space:nowrap;font-size:12px}
table.data td{padding:7px 10px;border-bottom:1px solid #eef1f4;vertical-align:top;
font-variant-numeric:tabular-nums}
table.data tr:hover td{background:#fafbfc}
.scroll{overflow-x:auto}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:24px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:18px 24px}
figure{margin:0}
figure.chart figcaption{font-weight:600;font-size:13px}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:var(--muted);margin:2px 0 4px}
.legend i,.swatch{display:inline-block;width:14px;height:3px;border-radius:2px;
vertical-align:middle;margin-right:5px}
.swatch{width:10px;height:10px;border-radius:50%}
svg{width:100%;height:auto;display:block;overflow:visible}
svg .plot{fill:#fcfcfd;stroke:var(--border)}
svg .grid{stroke:#e8ebef;stroke-width:1}
svg .tick{font-size:10.5px;fill:var(--muted)}
svg .axlabel{font-size:11px;fill:var(--muted)}
svg .ref{stroke:#868e96;stroke-dasharray:5 4;stroke-width:1.2}
svg .reflabel{font-size:10.5px;fill:#5c636a}
svg .vref{stroke-dasharray:3 3;stroke-width:1.2;stroke-opacity:.8}
svg .vlabel{font-size:10px}
.chartnote{font-size:12px;color:var(--muted);text-align:right}
details.plots{margin-top:16px}details.plots summary{cursor:pointer;color:var(--muted)}
.plotrow{display:flex;gap:16px;flex-wrap:wrap;margin-top:10px}
.plotrow img{max-width:100%;height:auto;border:1px solid var(--border);border-radius:6px}
img.pixelated{image-rendering:pixelated}
img.grid{background:#000;border-radius:6px;max-width:100%;height:auto}
.film .frame{display:flex;flex-direction:column;align-items:center}
.film .frame img{width:min(100%,560px)}
.film figcaption,.pair figcaption,.members figcaption{color:var(--muted);font-size:13px;
margin-top:6px;text-align:center}
#frame-cap{font-weight:600;color:var(--fg);font-size:14px}
.controls{display:flex;align-items:center;gap:8px;max-width:640px;margin:10px auto}
.controls input{flex:1}
.controls button{border:1px solid var(--border);background:var(--card);border-radius:6px;
padding:4px 10px;cursor:pointer;font:inherit}
.controls button:hover{border-color:var(--accent)}
.strip{display:flex;gap:6px;overflow-x:auto;padding:6px 2px 8px;scroll-behavior:smooth}
.thumb{flex:0 0 auto;border:2px solid transparent;border-radius:6px;padding:2px;
background:none;cursor:pointer;display:flex;flex-direction:column;align-items:center}
.thumb img{display:block;width:110px;height:auto;border-radius:3px}
.thumb span{font-size:11px;color:var(--muted)}
.thumb.active{border-color:var(--accent)}.thumb.active span{color:var(--accent);font-weight:600}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:24px}
.pair img{display:block;margin:0 auto;width:min(100%,520px)}
.members{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:20px}
.members img{display:block;width:100%}
.memo img{display:block;width:100%;height:auto;border-radius:6px}
.diag-evidence details{margin-top:8px}.diag-evidence summary{cursor:pointer;color:var(--muted);
font-size:12.5px}
.missing{color:var(--muted);border:1px dashed var(--border);border-radius:6px;padding:30px;
text-align:center}
@media (max-width:700px){.diag{grid-template-columns:1fr}main,header.top{padding-left:14px;
padding-right:14px}.charts{grid-template-columns:1fr}}
"""

# The filmstrip: frames live once in a JSON block (the latest one is the <img> already shown).
_JS = """
(function () {
  var data = document.getElementById('frames-data');
  var range = document.getElementById('frame-range');
  if (!data || !range) return;
  var frames = JSON.parse(data.textContent);
  var img = document.querySelector('#film .frame img');
  var cap = document.getElementById('frame-cap');
  var thumbs = document.querySelectorAll('#strip .thumb');
  var total = cap.textContent.replace(/^.* of /, '');
  var latest = img.getAttribute('src');
  var timer = null;
  function show(i) {
    i = Math.max(0, Math.min(frames.length - 1, i));
    range.value = String(i);
    img.src = frames[i].src || latest;
    img.alt = 'samples at epoch ' + frames[i].epoch;
    cap.textContent = 'epoch ' + frames[i].epoch + ' of ' + total;
    thumbs.forEach(function (t, k) { t.classList.toggle('active', k === i); });
    var t = thumbs[i];
    if (t && t.scrollIntoView) t.scrollIntoView({block: 'nearest', inline: 'nearest'});
  }
  range.addEventListener('input', function () { show(parseInt(range.value, 10)); });
  thumbs.forEach(function (t) {
    t.addEventListener('click', function () { show(parseInt(t.dataset.i, 10)); });
  });
  document.getElementById('prev').addEventListener('click', function () {
    show(parseInt(range.value, 10) - 1);
  });
  document.getElementById('next').addEventListener('click', function () {
    show(parseInt(range.value, 10) + 1);
  });
  var play = document.getElementById('play');
  play.addEventListener('click', function () {
    if (timer) { clearInterval(timer); timer = null; play.textContent = 'play'; return; }
    if (parseInt(range.value, 10) >= frames.length - 1) show(0);
    play.textContent = 'pause';
    timer = setInterval(function () {
      var i = parseInt(range.value, 10) + 1;
      if (i >= frames.length) { clearInterval(timer); timer = null; play.textContent = 'play'; }
      else show(i);
    }, 450);
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.target === range) return;
    if (ev.key === 'ArrowLeft') show(parseInt(range.value, 10) - 1);
    if (ev.key === 'ArrowRight') show(parseInt(range.value, 10) + 1);
  });
  show(frames.length - 1);
})();
"""
