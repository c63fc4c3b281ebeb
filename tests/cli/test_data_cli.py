"""`cxrgan data prepare | inspect | download` through cxrgan.cli.main.main."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from image_factory import write_image
from PIL import Image

from cxrgan.cli.main import build_parser, main
from cxrgan.data import download as dl
from cxrgan.data.source import load_images


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "xrays"
    write_image(root / "NORMAL" / "a.png", seed=1)
    write_image(root / "NORMAL" / "b.jpg", 60, 20, seed=2)
    write_image(root / "PNEUMONIA" / "c.png", 30, 30, seed=3)
    (root / "PNEUMONIA" / "empty.png").write_bytes(b"")
    return root


def test_inspect_prints_a_report_and_writes_sheet_and_json(tree, tmp_path, capsys) -> None:
    sheet, report = tmp_path / "out" / "sheet.png", tmp_path / "report.json"
    code = main(["data", "inspect", str(tree), "--image-size", "32", "--fit", "pad",
                 "--sheet", str(sheet), "--json", str(report), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "files         4: 3 readable images, 1 unreadable, 0 not images" in out
    assert "classes       NORMAL 2 (66.7 %), PNEUMONIA 1 (33.3 %)" in out
    assert "wider than 2:1: 1 (33.3 %)" in out
    assert "PNEUMONIA/empty.png: empty file (0 bytes)" in out
    assert f"contact sheet {sheet} (3 random images after --fit pad at 32 px)" in out
    assert Image.open(sheet).size == (3 * 98 + 2, 98 + 2)
    data = json.loads(report.read_text())
    assert data["images"] == 3 and data["fit"] == "pad" and data["image_size"] == 32


def test_inspect_writes_a_sheet_only_when_asked(tree, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    assert main(["data", "inspect", str(tree), "--no-progress", "--workers", "1"]) == 0
    assert "contact sheet not written (--sheet PNG writes one)" in capsys.readouterr().out
    assert sorted(tmp_path.iterdir()) == before  # no inspect.png where the user stands
    assert main(["data", "inspect", str(tree), "--no-progress",
                 "--sheet", str(tmp_path / "never.png"), "--no-sheet"]) == 0  # fmt: skip
    assert not (tmp_path / "never.png").exists()


def test_user_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["data", "inspect", str(tmp_path / "missing"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxrgan data: error: data folder not found") and err.count("\n") == 1
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_text("text")
    code = main(["data", "prepare", str(tmp_path / "bad"), "--image-size", "32", "--cache-dir",
                 str(tmp_path / "cache"), "--no-progress"])  # fmt: skip
    assert code == 2 and "no readable images" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["data", "prepare", str(tmp_path), "--image-size", "65"])
    assert exc.value.code == 2


def test_prepare_builds_then_training_reuses(tree, tmp_path, capsys) -> None:
    cache = tmp_path / "cache"
    args = ["data", "prepare", str(tree), "--image-size", "32", "--cache-dir", str(cache),
            "--no-progress", "--workers", "1"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "cache: building " in out and "prepared 3 images (NORMAL 2, PNEUMONIA 1)" in out
    assert "skipped 1 file(s):\n  PNEUMONIA/empty.png: empty file (0 bytes)" in out
    assert main(args) == 0
    assert "cache: reusing " in capsys.readouterr().out
    # Training's loader with the same size, fit and --cache-dir finds the same entry.
    log: list[str] = []
    load_images(tree, 32, demo_images=1, seed=0, progress=False, cache_dir=cache, log=log.append)
    assert log[0].startswith("cache: reusing ")


class _Serve(BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def archive_url(monkeypatch) -> Iterator[str]:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 4), ("val", 1), ("test", 2)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 64, 64), dtype=np.uint8)
        arrays[f"{split}_labels"] = np.array([[i % 2] for i in range(n)], dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    handler = type("Handler", (_Serve,), {"payload": buf.getvalue()})
    md5 = hashlib.md5(buf.getvalue()).hexdigest()
    monkeypatch.setitem(dl.PNEUMONIAMNIST, 64, dl.Archive("pneumoniamnist_64.npz", md5))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/pneumoniamnist_64.npz"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def test_download_command(tmp_path, archive_url, capsys) -> None:
    dest = tmp_path / "pm"
    code = main(["data", "download", "pneumoniamnist", "--size", "64", "--dest", str(dest),
                 "--url", archive_url, "--timeout", "10", "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert f"wrote 7 PNGs to {dest}" in out and "CC BY 4.0" in out
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.png")) == [
        "test/NORMAL/00000.png", "test/PNEUMONIA/00001.png",
        "train/NORMAL/00000.png", "train/NORMAL/00002.png",
        "train/PNEUMONIA/00001.png", "train/PNEUMONIA/00003.png",
        "val/NORMAL/00000.png",
    ]  # fmt: skip
    code = main(["data", "download", "pneumoniamnist", "--size", "64", "--dest", str(dest),
                 "--url", archive_url, "--timeout", "10", "--no-progress"])  # fmt: skip
    assert code == 2 and "--overwrite" in capsys.readouterr().err


def test_every_option_has_help() -> None:
    parser = build_parser()
    data = _subparsers(parser)["data"]
    actions = _subparsers(data)
    assert sorted(actions) == ["download", "inspect", "prepare", "split"]
    for name, sub in actions.items():
        for action in sub._actions:
            assert action.help and len(action.help) > 10, f"data {name} {action.dest}: no help"
        assert sub.description


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
