"""write_report(): one offline, self-contained page per run and per sweep."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from cxrgan import files
from cxrgan.errors import CxrganError
from cxrgan.reporting import html_images
from cxrgan.reporting.diagnose import diagnose_run
from cxrgan.reporting.html_report import write_report
from cxrgan.reporting.run_page_samples import MAX_FRAMES

DATA_PNG = "data:image/png;base64,"


class _Page(HTMLParser):
    """Every <img src>, every src/href, the frames JSON, the visible text and the table rows
    (each a list of its cells' visible text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.imgs: list[str] = []
        self.refs: list[str] = []
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.frames: list[dict] | None = None
        self._json = False
        self._skip = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action")]
        if tag == "script" and a.get("id") == "frames-data":
            self._json = True
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
            self._json = False
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._json:
            self.frames = json.loads(data)
        elif not self._skip:
            self.text.append(data)
            if self._cell is not None:
                self._cell.append(data)


def _parse(path: Path) -> tuple[str, _Page]:
    source = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(source)
    return source, page


def _assert_png(uri: str) -> Image.Image:
    assert uri.startswith(DATA_PNG), uri[:40]
    data = base64.b64decode(uri[len(DATA_PNG) :], validate=True)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        im.load()  # decodes fully: a truncated PNG raises here
        return im


def _assert_offline(source: str, page: _Page) -> None:
    for ref in page.refs:
        assert ref.startswith(("data:", "#")) or not re.match(r"^[a-z][a-z0-9+.-]*:|^//", ref), ref
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", source, re.I)
    assert not re.search(r"url\(\s*[\"']?\s*(?:https?:)?//", source, re.I)
    assert "http://" not in source and "https://" not in source
    assert "@import" not in source


def _text(page: _Page) -> str:
    return " ".join(" ".join(page.text).split())


def test_run_report(run_dir: Path) -> None:
    out = write_report(run_dir)
    assert out == run_dir / "report.html" and out.is_file()
    source, page = _parse(out)
    _assert_offline(source, page)
    assert len(page.imgs) >= 6 + 3  # six thumbnails, latest frame, real vs generated, memorisation
    for uri in page.imgs:
        _assert_png(uri)
    assert page.frames is not None and len(page.frames) == 6
    assert [f["epoch"] for f in page.frames] == [1, 2, 3, 4, 5, 6]
    assert page.frames[-1]["src"] is None  # the latest frame is the <img> already on the page
    for frame in page.frames[:-1]:
        _assert_png(frame["src"])
    text = _text(page)
    diagnosis = diagnose_run(run_dir)
    assert diagnosis.title in text and diagnosis.advice.replace("`", "") in text
    assert diagnosis.hint() in text
    assert "Synthetic demo data" in text
    # history: the resume and what it changed
    assert "resume" in text and "g_lr 2e-4 → 1e-3" in text and "completed" in text
    assert "Memorisation" in text
    assert source.count("<svg") >= 4  # losses, D outputs, FWD, KID (+ diversity)
    assert 'type="range"' in source
    assert not list(run_dir.glob(".report.html.*"))  # no temporary file left behind


def test_real_data_has_no_synthetic_banner(make_run: Callable[..., Path]) -> None:
    run = make_run("real", synthetic=False, epochs=3, plots=False)
    _, page = _parse(write_report(run))
    text = _text(page)
    assert "Synthetic demo data" not in text
    assert "NORMAL" in text and "PNEUMONIA" in text


def test_text_is_escaped(make_run: Callable[..., Path]) -> None:
    run = make_run("esc", epochs=2)
    cfg = json.loads((run / "config.json").read_text())
    cfg["config"]["data"] = "<script>alert('x')</script>"
    cfg["history"][0]["changes"]["note"] = ["<b>", "&amp;"]
    (run / "config.json").write_text(json.dumps(cfg))
    source, page = _parse(write_report(run))
    assert "<script>alert" not in source and "&lt;script&gt;alert" in source
    assert "<b>" not in source.split("<style>")[0] + source.split("</style>")[1]
    assert "<script>alert('x')</script>" in _text(page)  # shown, as text


def test_early_run_without_records_or_samples(tmp_path: Path) -> None:
    run = tmp_path / "fresh"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": {"image_size": 64}}))
    source, page = _parse(write_report(run))
    _assert_offline(source, page)
    text = _text(page)
    assert "Too early to judge" in text and "No sample grids yet" in text


def test_diverged_run_report(make_run: Callable[..., Path]) -> None:
    run = make_run("nan", kind="diverged", epochs=4)
    source, page = _parse(write_report(run))
    assert "Diverged" in _text(page)
    assert "NaN/inf" in source  # marked on the loss chart


def test_torn_grid_and_foreign_files_are_tolerated(make_run: Callable[..., Path]) -> None:
    run = make_run("torn", epochs=3)
    (run / "samples" / "epoch_0004.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (run / "samples" / "notes.txt").write_text("hi")
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 999, "loss_d": 0.')  # torn last line
    _, page = _parse(write_report(run))
    for uri in page.imgs:
        _assert_png(uri)
    assert page.frames is not None  # the broken epoch-4 grid is left out of the filmstrip
    assert [f["epoch"] for f in page.frames] == [1, 2, 3]
    assert "generated, epoch 3" in _text(page)


def test_many_epochs_are_subsampled(make_run: Callable[..., Path]) -> None:
    run = make_run("long", epochs=MAX_FRAMES + 25, per_epoch=2, n_images=8)
    _, page = _parse(write_report(run))
    assert page.frames is not None
    epochs = [f["epoch"] for f in page.frames]
    assert len(epochs) <= MAX_FRAMES
    assert epochs[0] == 1 and epochs[-1] == MAX_FRAMES + 25
    assert epochs == sorted(set(epochs))


def test_refresh_every_epoch_reuses_the_decoded_grids(
    make_run: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 epochs of 64 images at 64×64 (the trainer's grids): the refresh the trainer pays at
    the end of each epoch encodes no image again (its cost is measured, not asserted here:
    timings on a shared CI machine are no test)."""
    html_images._CACHE.clear()
    run = make_run(
        "speed", epochs=30, per_epoch=8, image_size=64, evals=[100.0 - i for i in range(30)]
    )
    encoded = []
    real_encode = html_images._encode
    monkeypatch.setattr(html_images, "_encode", lambda im: encoded.append(1) or real_encode(im))
    write_report(run)
    first = len(encoded)
    write_report(run)  # what the trainer pays at the end of each epoch: grids cached
    assert first > 0 and len(encoded) == first
    size = (run / "report.html").stat().st_size
    assert size < 10 * 2**20, f"{size / 2**20:.1f} MiB"


def test_atomic_replace_keeps_old_page_on_failure(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write_report(run_dir)
    before = out.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(OSError):
        write_report(run_dir)
    assert out.read_bytes() == before
    assert not list(run_dir.glob(".report.html.*"))


def test_not_a_run_or_sweep(tmp_path: Path) -> None:
    with pytest.raises(CxrganError, match="neither a run"):
        write_report(tmp_path)


# ------------------------------------------------------------------------------------------------
# Sweeps


def test_sweep_report(sweep_dir: Path) -> None:
    write_report(sweep_dir / "runs" / "g_lr=1e-3")  # one member has its own report: linked
    out = write_report(sweep_dir)
    assert out == sweep_dir / "report.html"
    source, page = _parse(out)
    _assert_offline(source, page)
    assert len(page.imgs) == 4  # real + the three members with samples
    for uri in page.imgs:
        _assert_png(uri)
    text = _text(page)
    for name in ("g_lr=1e-3", "g_lr=2e-4", "g_lr=2e-3", "g_lr=1e-2", "no-dir"):
        assert name in text
    assert "D overpowers G" in text and "D too weak" in text and "Healthy" in text
    assert "failed" in text and "queued" in text and "no run directory" in text
    header, first = page.rows[0], page.rows[1]
    assert header[1:6] == ["member", "params", "status", "best FWD", "final FWD"]
    assert first[1:6] == ["g_lr=1e-3", "g_lr=1e-3 d_lr=2e-4", "done", "41", "41"]
    assert 'href="runs/g_lr=1e-3/report.html"' in source
    # ranked by FWD: the best member first, members without FWD last
    assert text.index("g_lr=1e-3") < text.index("g_lr=2e-4") < text.index("g_lr=2e-3")
    assert source.count("<svg") >= 3  # overlaid loss_D, loss_G, D(x), FWD


def test_sweep_with_missing_parts(tmp_path: Path, make_run: Callable[..., Path]) -> None:
    root = tmp_path / "s"
    root.mkdir()
    (root / "sweep.json").write_text(json.dumps({"members": [{"name": "x"}, "junk", {}]}))
    source, page = _parse(write_report(root))
    _assert_offline(source, page)
    # member "x": its name, and what the page knows of it
    assert page.rows[1][:5] == ["1", "x", "—", "unknown", "no run directory"]
    (root / "sweep.json").write_text("{not json")
    with pytest.raises(CxrganError, match="unreadable"):
        write_report(root)
    (root / "sweep.json").write_text(json.dumps({}))
    assert "lists no members" in _text(_parse(write_report(root))[1])
