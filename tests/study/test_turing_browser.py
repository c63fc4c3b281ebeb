"""A reader in headless Chromium: open the study page from disk (no network), answer every
image with key presses, reload midway and carry on from localStorage, export the answers, and
score them. Chromium is driven as in tests/reporting/test_report_browser.py (DevTools protocol
over a pipe); without it the test skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import image_folders
from reporting.test_report_browser import ARTIFACTS, TIMEOUT_S, Browser, Page, _chromium

from cxrgan.study.make import make_study
from cxrgan.study.score import score_study

N = 12


@pytest.fixture
def browser(tmp_path: Path):
    b = Browser(_chromium(), tmp_path / "profile", tmp_path / "chromium.log")
    try:
        b.send("Browser.getVersion", timeout=TIMEOUT_S)
    except (TimeoutError, RuntimeError) as exc:
        b.close()
        pytest.fail(f"Chromium did not start: {exc}")
    yield b
    b.close()


def _press(page: Page, key: str) -> None:
    code = f"Key{key.upper()}" if key.isalpha() else f"Digit{key}"
    common = {"key": key, "code": code, "windowsVirtualKeyCode": ord(key.upper())}
    page.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": key, **common})
    page.call("Input.dispatchKeyEvent", {"type": "keyUp", **common})


def _state(page: Page) -> dict:
    return page.js(
        "({id: document.getElementById('image').dataset.id || null,"
        " count: document.getElementById('count').textContent,"
        " done: !document.getElementById('done').classList.contains('hidden'),"
        " w: document.getElementById('image').naturalWidth})"
    )


def _window_level(page: Page) -> tuple[str, str]:
    """Drag on the image 100 px right and 100 px up: more contrast, brighter."""
    box = page.js("(r => ({x: r.x + r.width / 2, y: r.y + r.height / 2}))"
                  "(document.getElementById('image').getBoundingClientRect())")  # fmt: skip
    before = page.js("document.getElementById('image').style.filter")
    x, y = box["x"], box["y"]
    mouse = {"button": "left", "clickCount": 1}
    page.call("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x, "y": y, **mouse})
    move = {"type": "mouseMoved", "x": x + 100, "y": y - 100, "button": "left", "buttons": 1}
    page.call("Input.dispatchMouseEvent", move)
    page.call(
        "Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x + 100, "y": y - 100, **mouse}
    )
    return before, page.js("document.getElementById('image').style.filter")


def _answer(page: Page, truth: dict[str, str], k: int) -> None:
    """Answer the image on screen as an always-right reader, confidence 1..5 in turn."""
    s = _state(page)
    assert s["w"] == 32, s  # shown at its stored size
    _press(page, "f" if truth[s["id"]] == "fake" else "r")
    _press(page, str(k % 5 + 1))


def test_reader_answers_reloads_continues_and_exports(browser: Browser, tmp_path: Path) -> None:
    real, fake = image_folders(tmp_path)
    study = tmp_path / "study"
    key = make_study(real, fake, N, study, seed=5)
    truth = {i["id"]: i["truth"] for i in key["images"]}
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.send(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )

    page = Page(browser)
    page.open(study / "study.html")
    page.js("document.getElementById('reader').value = 'Reader A';"
            "document.getElementById('start').click()")  # fmt: skip
    seen = []
    for k in range(N // 2):
        seen.append(_state(page)["id"])
        _answer(page, truth, k)
    assert _state(page)["count"] == f"{N // 2} / {N}"

    page.open(study / "study.html")  # closed and opened again: carries on where it stopped
    s = _state(page)
    assert s["count"] == f"{N // 2} / {N}" and s["id"] not in seen
    assert page.js("document.getElementById('who').textContent") == "reader: Reader A"
    assert _window_level(page) == (
        "brightness(1) contrast(1)",
        "brightness(1.65) contrast(1.65)",
    )
    page.screenshot(ARTIFACTS / "turing-study-reading.png")
    for k in range(N // 2, N):
        seen.append(_state(page)["id"])
        _answer(page, truth, k)
    assert sorted(seen) == sorted(truth)  # every image once, in the page's order
    assert _state(page)["done"]
    page.screenshot(ARTIFACTS / "turing-study.png")

    page.js("document.getElementById('export2').click()")
    deadline = time.monotonic() + 20
    while not (files := list(downloads.glob("*.json"))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [f.name for f in files] == ["answers-Reader_A.json"]
    exported = json.loads(files[0].read_text())
    assert exported["reader"] == "Reader A" and exported["study"] == key["study"]
    assert exported["exported"].endswith("Z") and len(exported["answers"]) == N
    assert sorted(a["confidence"] for a in exported["answers"].values()) == sorted(
        k % 5 + 1 for k in range(N)
    )
    assert page.problems() == []

    s = score_study(study, files)
    assert s["readers"][0]["accuracy"] == 1.0 and s["readers"][0]["answered"] == N

    summary = Page(browser)  # the organiser's one-page summary: self-contained too
    summary.open(study / "score.html")
    images = summary.js("Array.from(document.images).map(i => i.complete && i.naturalWidth)")
    assert len(images) == 1 and images[0] > 0  # every fake caught; no real called fake
    assert summary.problems() == []
    summary.screenshot(ARTIFACTS / "turing-score.png")
