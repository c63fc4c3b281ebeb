"""One self-contained HTML page per run (or per sweep): no network, no CDN, images inline.

`write_report(RUN)` is called by the trainer at the end of every epoch, so it must stay fast:
PNG bytes are embedded as they are (no re-encoding) where possible, and everything derived from
a sample grid (thumbnail, downscaled copy, diversity) is cached in memory by (path, mtime, size)
— a grid never changes once written. Charts are inline SVG drawn from metrics.jsonl, so the page
does not need matplotlib (slow to import) nor the trainer's plots (which may not exist yet).

The page is written to a temporary file and renamed, so a browser never reads a torn page.
"""

from __future__ import annotations

from pathlib import Path

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path
from cxrgan.reporting.html_page import REPORT_NAME
from cxrgan.reporting.run_page import build_run_page
from cxrgan.reporting.run_records import is_run_dir
from cxrgan.reporting.sweep_page import build_sweep_page


def write_report(path: Path) -> Path:
    """Write RUN/report.html (a run has config.json) or SWEEP/report.html (has sweep.json)."""
    path = Path(path)
    if is_run_dir(path):
        page = build_run_page(path)
    elif (path / "sweep.json").is_file():
        page = build_sweep_page(path)
    else:
        raise CxrganError(
            f"{path} is neither a run directory (no config.json) nor a sweep (no sweep.json)"
        )
    out = path / REPORT_NAME
    _write_atomic(out, page)
    return out


def _write_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
