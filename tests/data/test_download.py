"""`download_pneumoniamnist` against a local HTTP server on 127.0.0.1 (with Range support)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cxrgan.data import download as dl
from cxrgan.data.folder import load_folder
from cxrgan.errors import CxrganError

SIZE = 64
COUNTS = {"train": 6, "val": 2, "test": 3}
TIMEOUT = 10.0


def make_archive(seed: int = 0, size: int = SIZE) -> tuple[bytes, dict[str, np.ndarray]]:
    """A small .npz in the MedMNIST layout; returns its bytes and its arrays."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, n in COUNTS.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8).reshape(n, 1)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue(), arrays


class ArchiveServer(ThreadingHTTPServer):
    payload: bytes = b""
    honour_range: bool = True
    status: int = 200
    requests: list[dict[str, str | None]]
    send_length: bool = True  # False: no Content-Length, the body ends when the server closes
    stream: int = 0  # > 0: ignore the payload and send this many bytes of zeros, in chunks
    sent: int = 0  # bytes of body written before the client hung up


class Handler(BaseHTTPRequestHandler):
    server: ArchiveServer

    def do_GET(self) -> None:
        srv = self.server
        wanted = self.headers.get("Range")
        srv.requests.append({"path": self.path, "range": wanted})
        if srv.status != 200:
            self.send_error(srv.status)
            return
        if srv.stream:
            self._stream(srv)
            return
        data, start = srv.payload, 0
        match = re.fullmatch(r"bytes=(\d+)-", wanted or "")
        if match and srv.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def _stream(self, srv: ArchiveServer) -> None:
        """A wrong mirror: `stream` bytes, announced or not, until the client hangs up."""
        self.send_response(200)
        if srv.send_length:
            self.send_header("Content-Length", str(srv.stream))
        else:
            self.close_connection = True
        self.end_headers()
        chunk = bytes(1 << 16)
        try:
            while srv.sent < srv.stream:
                self.wfile.write(chunk)
                srv.sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *_args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    srv = ArchiveServer(("127.0.0.1", 0), Handler)
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def url_of(srv: ArchiveServer) -> str:
    host, port = srv.server_address[:2]
    return f"http://{host}:{port}/files/pneumoniamnist_64.npz?download=1"


@pytest.fixture
def archive(monkeypatch: pytest.MonkeyPatch, server: ArchiveServer) -> dict[str, np.ndarray]:
    """Serve a test archive and make it the table's 64 px entry (its MD5 included)."""
    payload, arrays = make_archive()
    server.payload = payload
    md5 = hashlib.md5(payload).hexdigest()
    monkeypatch.setitem(dl.PNEUMONIAMNIST, SIZE, dl.Archive("pneumoniamnist_64.npz", md5))
    return arrays


def fetch(dest: Path, srv: ArchiveServer, **kw: object) -> dict:
    lines: list[str] = []
    counts = dl.download_pneumoniamnist(SIZE, dest, url=url_of(srv), progress=False,
                                        log=lines.append, timeout=TIMEOUT, **kw)  # fmt: skip
    return {"counts": counts, "log": lines}


def test_table_points_at_the_zenodo_record() -> None:
    assert sorted(dl.PNEUMONIAMNIST) == [64, 128, 224]
    for size, entry in dl.PNEUMONIAMNIST.items():
        assert re.fullmatch(r"[0-9a-f]{32}", entry.md5)
        assert entry.url == (
            f"https://zenodo.org/records/10519652/files/pneumoniamnist_{size}.npz?download=1"
        )


def test_download_verifies_and_unpacks(tmp_path: Path, server, archive) -> None:
    dest = tmp_path / "pmnist"
    result = fetch(dest, server)
    assert result["counts"] == {"train": {"NORMAL": 3, "PNEUMONIA": 3},
                                "val": {"NORMAL": 1, "PNEUMONIA": 1},
                                "test": {"NORMAL": 2, "PNEUMONIA": 1}}  # fmt: skip
    assert server.requests == [{"path": "/files/pneumoniamnist_64.npz?download=1", "range": None}]
    # index within the split; label 0 → NORMAL, 1 → PNEUMONIA
    for split, n in COUNTS.items():
        for i in range(n):
            cls = "PNEUMONIA" if i % 2 else "NORMAL"
            png = np.asarray(Image.open(dest / split / cls / f"{i:05d}.png"))
            np.testing.assert_array_equal(png, archive[f"{split}_images"][i])
    assert not (dest / ".download" / "pneumoniamnist_64.npz").exists()  # not kept by default
    assert json.loads((dest / ".source.json").read_text())["license"] == "CC BY 4.0"
    assert any("cxrgan train --data" in line for line in result["log"])
    # What `cxrgan train` reads: the hidden .download/.source.json are not data.
    data = load_folder(dest, 64, workers=1, progress=False)
    assert data.class_counts == {"NORMAL": 6, "PNEUMONIA": 5} and data.skipped == []


def test_corrupt_download_is_rejected_and_not_unpacked(tmp_path: Path, server, archive) -> None:
    payload = bytearray(server.payload)
    payload[len(payload) // 2] ^= 0xFF
    server.payload = bytes(payload)
    dest = tmp_path / "pmnist"
    with pytest.raises(CxrganError, match=r"checksum mismatch for pneumoniamnist_64\.npz: "
                       r"expected MD5 [0-9a-f]{32}, got [0-9a-f]{32}"):  # fmt: skip
        fetch(dest, server)
    assert not any((dest / s).exists() for s in dl.SPLITS)
    assert list((dest / ".download").iterdir()) == []  # the bad .part is gone


def test_partial_download_resumes_with_a_range_request(tmp_path: Path, server, archive) -> None:
    dest = tmp_path / "pmnist"
    part = dest / ".download" / "pneumoniamnist_64.npz.part"
    part.parent.mkdir(parents=True)
    half = len(server.payload) // 2
    part.write_bytes(server.payload[:half])
    result = fetch(dest, server, keep_archive=True)
    assert server.requests[0]["range"] == f"bytes={half}-"
    assert f"resuming pneumoniamnist_64.npz.part from byte {half:,}" in result["log"]
    kept = dest / ".download" / "pneumoniamnist_64.npz"
    assert kept.read_bytes() == server.payload and not part.exists()
    assert sum(sum(c.values()) for c in result["counts"].values()) == 11


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path, server, archive) -> None:
    server.honour_range = False
    dest = tmp_path / "pmnist"
    part = dest / ".download" / "pneumoniamnist_64.npz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes from another file")
    fetch(dest, server)
    assert server.requests[0]["range"] is not None
    assert (dest / "train" / "NORMAL" / "00000.png").exists()


def test_complete_part_is_verified_after_416(tmp_path: Path, server, archive) -> None:
    dest = tmp_path / "pmnist"
    part = dest / ".download" / "pneumoniamnist_64.npz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(server.payload)  # everything arrived, the rename did not happen
    fetch(dest, server)
    assert server.requests[0]["range"] == f"bytes={len(server.payload)}-"
    assert (dest / "test" / "NORMAL" / "00000.png").exists()


def test_http_errors_and_bad_arguments(tmp_path: Path, server, archive) -> None:
    server.status = 404
    with pytest.raises(CxrganError, match="download failed: HTTP 404"):
        fetch(tmp_path / "a", server)
    with pytest.raises(CxrganError, match="http:// or https://"):
        dl.download_pneumoniamnist(SIZE, tmp_path / "b", url="file:///etc/passwd", progress=False,
                                   log=lambda _m: None)  # fmt: skip
    with pytest.raises(CxrganError, match="--size must be one of 64, 128, 224"):
        dl.download_pneumoniamnist(32, tmp_path / "c", progress=False)


def test_nothing_listens_is_a_clear_error(tmp_path: Path, archive) -> None:
    with pytest.raises(CxrganError, match=r"download failed .*run the command again to resume"):
        dl.download_pneumoniamnist(SIZE, tmp_path / "d", url="http://127.0.0.1:9/x.npz",
                                   progress=False, log=lambda _m: None, timeout=5)  # fmt: skip


def test_existing_folders_need_overwrite(tmp_path: Path, server, archive) -> None:
    dest = tmp_path / "pmnist"
    fetch(dest, server)
    with pytest.raises(CxrganError, match=r"already holds train, val, test/.*--overwrite"):
        fetch(dest, server)
    (dest / "train" / "NORMAL" / "extra.png").write_bytes(b"")
    fetch(dest, server, overwrite=True)
    assert not (dest / "train" / "NORMAL" / "extra.png").exists()


def test_archive_with_wrong_content_is_refused(tmp_path: Path, server, monkeypatch) -> None:
    payload, _ = make_archive(size=28)  # right keys, wrong image size
    server.payload = payload
    md5 = hashlib.md5(payload).hexdigest()
    monkeypatch.setitem(dl.PNEUMONIAMNIST, SIZE, dl.Archive("pneumoniamnist_64.npz", md5))
    with pytest.raises(CxrganError, match=r"not a valid PneumoniaMNIST archive .*\(N, 64, 64\)"):
        fetch(tmp_path / "e", server)
    assert not (tmp_path / "e" / "train").exists()


def test_table_caps_each_archive_at_its_largest_possible_size() -> None:
    # 5,856 images of S x S bytes, uncompressed, plus labels and headers.
    assert dl.PNEUMONIAMNIST[64].max_bytes == 5_856 * (64 * 64 + 8) + (1 << 20)
    assert dl.PNEUMONIAMNIST[224].max_bytes < 300_000_000
    payload, _ = make_archive()  # the test archive is far below its own size's cap
    assert len(payload) < dl.max_archive_bytes(SIZE, images=sum(COUNTS.values()))


def _capped(monkeypatch: pytest.MonkeyPatch, srv: ArchiveServer, cap: int) -> None:
    payload, _ = make_archive()
    srv.payload = payload
    md5 = hashlib.md5(payload).hexdigest()
    monkeypatch.setitem(dl.PNEUMONIAMNIST, SIZE, dl.Archive("pneumoniamnist_64.npz", md5, cap))


@pytest.mark.parametrize("announced", [True, False])
def test_wrong_mirror_stops_at_the_size_cap(
    tmp_path: Path, server: ArchiveServer, monkeypatch: pytest.MonkeyPatch, announced: bool
) -> None:
    cap = 200_000
    _capped(monkeypatch, server, cap)
    server.stream, server.send_length = 64 << 20, announced  # 64 MiB of something else
    dest = tmp_path / "pmnist"
    pattern = "announces 67,108,864 bytes" if announced else "sent more than 200,000 bytes"
    with pytest.raises(dl.TooLarge, match=pattern + r".*\(?check --url"):
        fetch(dest, server)
    assert list((dest / ".download").iterdir()) == []  # nothing kept
    assert not any((dest / s).exists() for s in dl.SPLITS)
    # Announced: refused before reading; not announced: cut off at the cap. The server got
    # rid of at most the cap plus what the sockets buffer, never the 64 MiB.
    assert server.sent < (8 << 20)


def test_oversized_part_is_discarded_before_resuming(
    tmp_path: Path, server: ArchiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _capped(monkeypatch, server, 200_000)
    dest = tmp_path / "pmnist"
    part = dest / ".download" / "pneumoniamnist_64.npz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(bytes(300_000))  # a previous wrong download, bigger than the archive
    result = fetch(dest, server)
    assert server.requests[0]["range"] is None  # started over, no Range
    assert any("larger than pneumoniamnist_64.npz can be" in line for line in result["log"])
    assert (dest / "train" / "NORMAL" / "00000.png").exists()


def test_too_little_free_space_is_refused_before_downloading(
    tmp_path: Path, server: ArchiveServer, archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = len(server.payload) // 2
    usage = shutil.disk_usage(tmp_path)._replace(free=free)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage)
    dest = tmp_path / "pmnist"
    need = f"{len(server.payload):,}"
    with pytest.raises(CxrganError, match=rf"not enough free space in .*\.download: the download "
                       rf"needs {need} bytes, {free:,} are free"):  # fmt: skip
        fetch(dest, server)
    assert list((dest / ".download").iterdir()) == []
