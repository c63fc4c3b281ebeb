"""Open the HTML reports in headless Chromium: no console errors, no network, every image loads.

Chromium is driven through the DevTools protocol over `--remote-debugging-pipe` (JSON messages
ending in NUL on fds 3 and 4), so the test needs no Python package beyond the standard library;
only Debian's `chromium` (apt-get install -y chromium). Screenshots go to test-artifacts/.
Without Chromium the test skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cxrgan.reporting.html_report import write_report

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_S = 60.0


def _chromium() -> str:
    """The Chromium binary: $CXRGAN_CHROMIUM when set, else Debian's /usr/bin/chromium."""
    override = os.environ.get("CXRGAN_CHROMIUM")
    candidates = [override] if override else ["/usr/bin/chromium", "chromium"]
    for candidate in candidates:
        if found := shutil.which(candidate):
            return found
    message = f"headless Chromium not found ({' or '.join(candidates)}; apt-get install chromium)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI must run the browser test, but {message}")
    pytest.skip(message)


def _high_fd(fd: int) -> int:
    """Move `fd` to >= 10 so that dup2-ing others onto 3 and 4 cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """A headless Chromium speaking the DevTools protocol over a pair of pipes."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        to_chrome_r, self._w = map(_high_fd, os.pipe())
        self._r, from_chrome_w = map(_high_fd, os.pipe())
        argv = [
            binary,
            "--headless",
            "--no-sandbox",  # root in a container has no user namespaces
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, to_chrome_r, 3),  # Chromium reads commands from fd 3 ...
            (os.POSIX_SPAWN_DUP2, from_chrome_w, 4),  # ... and writes replies/events to fd 4
        ]
        self.pid = os.posix_spawn(binary, argv, dict(os.environ), file_actions=actions)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.send("Browser.close", timeout=5)
        for sig in (signal.SIGTERM, signal.SIGKILL):  # only if it did not exit by itself
            if self._reaped(5.0):
                break
            os.kill(self.pid, sig)
        else:
            self._reaped(5.0)
        for fd in (self._r, self._w):
            os.close(fd)

    def _reaped(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return True
            except ChildProcessError:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout=30.0
    ) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next_id, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        return self._wait(lambda m: m.get("method") == method, timeout)

    def _wait(self, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "method" in msg:
                    self.events.append(msg)
                if match(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk


class Page:
    def __init__(self, browser: Browser) -> None:
        self.b = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.sid = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.resize(1280, 900)

    def call(self, method: str, params: dict | None = None) -> dict[str, Any]:
        return self.b.send(method, params, self.sid)

    def resize(self, width: int, height: int) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def open(self, path: Path) -> None:
        self.b.events.clear()
        self.call("Page.navigate", {"url": path.resolve().as_uri()})
        self.b.wait_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, failed loads and any non-local request."""
        out = []
        for ev in self.b.events:
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {p.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                out.append(f"load failed: {p.get('errorText')}")
            elif method == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                if not url.startswith(("data:", "file:", "about:")):
                    out.append(f"network request: {url}")
        return out

    def screenshot(self, path: Path) -> None:
        height = self.js("document.documentElement.scrollHeight")
        self.resize(1280, min(int(height), 16000))
        time.sleep(0.2)  # let layout settle at the new size
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.resize(1280, 900)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    binary = _chromium()
    tmp = tmp_path_factory.mktemp("chromium")
    b = Browser(binary, tmp / "profile", tmp / "chromium.log")
    try:
        b.send("Browser.getVersion", timeout=TIMEOUT_S)
    except (TimeoutError, RuntimeError) as exc:
        b.close()
        log = (tmp / "chromium.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"Chromium did not start: {exc}\n{log}")
    yield b
    b.close()


ALL_IMAGES_LOADED = """
(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
  return imgs.map(i => ({src: i.src.slice(0, 30), w: i.naturalWidth, ok: i.complete}));
})()
"""

SCRUB_TO_FIRST_FRAME = """
(async () => {
  const range = document.getElementById('frame-range');
  const img = document.querySelector('#film .frame img');
  const before = img.src;
  range.value = '0';
  range.dispatchEvent(new Event('input'));
  if (!img.complete) await new Promise(r => img.addEventListener('load', r, {once: true}));
  return {changed: img.src !== before, w: img.naturalWidth,
          caption: document.getElementById('frame-cap').textContent,
          active: document.querySelector('#strip .thumb.active').dataset.i};
})()
"""


def _check_page(page: Page, report: Path, shot: Path) -> list[dict[str, Any]]:
    page.open(report)
    images = page.js(ALL_IMAGES_LOADED)
    assert images, "the report shows no images"
    broken = [i for i in images if not (i["ok"] and i["w"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    page.screenshot(shot)
    assert shot.stat().st_size > 10_000
    return images


def test_run_report_in_chromium(browser: Browser, run_dir: Path) -> None:
    report = write_report(run_dir)
    page = Page(browser)
    images = _check_page(page, report, ARTIFACTS / "report.png")
    assert len(images) >= 6 + 2  # thumbnails, latest frame, real vs generated
    assert page.js("document.querySelectorAll('svg polyline').length") >= 4  # the charts drew
    scrub = page.js(SCRUB_TO_FIRST_FRAME)
    assert scrub["changed"] and scrub["w"] > 0, scrub
    assert scrub["caption"].startswith("epoch 1 of"), scrub
    assert scrub["active"] == "0"
    assert page.problems() == []


def test_sweep_report_in_chromium(browser: Browser, sweep_dir: Path) -> None:
    report = write_report(sweep_dir)
    page = Page(browser)
    images = _check_page(page, report, ARTIFACTS / "sweep-report.png")
    assert len(images) >= 4  # real + three members' latest grids
    assert page.problems() == []


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CXRGAN_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser test"):
        _chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not found"):
        _chromium()
