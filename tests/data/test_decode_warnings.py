"""Decoder warnings (Pillow's corrupt-EXIF and decompression-bomb warnings) go to the log and
the skip reasons, next to their file, never to stderr."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cxrgan.data.decode import collect_warnings, read_gray
from cxrgan.data.folder import load_folder


def _jpeg(size: tuple[int, int] = (80, 64), seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, size[::-1], dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


def corrupt_exif_jpeg(seed: int = 0) -> bytes:
    """A JPEG whose EXIF ImageDescription points 60,000 bytes past the end of its block."""
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 80), dtype=np.uint8)
    exif = Image.Exif()
    exif[274] = 1  # orientation: normal
    exif[270] = "a description longer than four bytes"
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", exif=exif.tobytes())
    data = bytearray(buf.getvalue())
    tiff = data.find(b"Exif\x00\x00") + 6
    order = ">" if data[tiff : tiff + 2] == b"MM" else "<"
    ifd = tiff + struct.unpack(order + "I", data[tiff + 4 : tiff + 8])[0]
    for entry in range(struct.unpack(order + "H", data[ifd : ifd + 2])[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack(order + "H", data[at : at + 2])[0] == 270:
            data[at + 8 : at + 12] = struct.pack(order + "I", 60000)
    return bytes(data)


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_collect_warnings_catches_them_even_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), collect_warnings() as found:
        import warnings

        warnings.warn("Corrupt EXIF data.  Expecting 12 bytes", UserWarning, stacklevel=1)
        warnings.warn("Corrupt EXIF data.  Expecting 12 bytes", UserWarning, stacklevel=1)
        raise RuntimeError
    assert found == ["UserWarning: Corrupt EXIF data. Expecting 12 bytes"]  # once, one line


@pytest.mark.parametrize("workers", [1, 2])
def test_corrupt_exif_is_kept_and_logged_not_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], workers: int
) -> None:
    root = _folder(tmp_path / "data", {"NORMAL/bad_exif.jpeg": corrupt_exif_jpeg(),
                                       "NORMAL/fine.jpeg": _jpeg(seed=1)})  # fmt: skip
    with collect_warnings() as direct:
        read_gray(root / "NORMAL/bad_exif.jpeg", 32)
    assert direct, "the test file must make Pillow warn"
    lines: list[str] = []
    data = load_folder(root, 32, workers=workers, progress=False, log=lines.append)
    assert len(data) == 2 and data.skipped == []  # the pixels are fine: kept
    assert [p for p, _ in data.warnings] == ["NORMAL/bad_exif.jpeg"] * len(data.warnings)
    assert data.warnings[0][1] == direct[0]
    assert lines == [f"1 file(s) decoded with warnings, kept: NORMAL/bad_exif.jpeg: {direct[0]}"]
    assert capfd.readouterr().err == ""


def test_decompression_bomb_warning_is_logged(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _folder(tmp_path / "data", {"big.jpeg": _jpeg((80, 64)), "small.jpeg": _jpeg((40, 30))})
    # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: 80 x 64 = 5,120.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)
    lines: list[str] = []
    data = load_folder(root, 16, workers=1, progress=False, log=lines.append)
    assert len(data) == 2
    assert len(data.warnings) == 1 and data.warnings[0][0] == "big.jpeg"
    assert data.warnings[0][1].startswith("DecompressionBombWarning: Image size (5120 pixels)")
    assert "decoded with warnings" in lines[0]
    assert capfd.readouterr().err == ""


def test_a_skipped_file_quotes_its_warnings_in_the_reason(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    broken = corrupt_exif_jpeg()
    root = _folder(tmp_path / "data", {"cut.jpeg": broken[: len(broken) // 2],
                                       "fine.jpeg": _jpeg(seed=2)})  # fmt: skip
    data = load_folder(root, 32, workers=1, progress=False)
    ((path, reason),) = data.skipped
    assert path == "cut.jpeg"
    assert reason.startswith("corrupt or truncated image") and "(warnings: " in reason
    assert data.warnings == []
    assert capfd.readouterr().err == ""


def test_warnings_survive_the_cache(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = _folder(tmp_path / "data", {"bad_exif.jpeg": corrupt_exif_jpeg(),
                                       "fine.jpeg": _jpeg(seed=3)})  # fmt: skip
    cache = tmp_path / "cache"
    built = load_folder(root, 32, workers=1, progress=False, cache_dir=cache)
    lines: list[str] = []
    again = load_folder(root, 32, workers=1, progress=False, cache_dir=cache, log=lines.append)
    assert again.cache_entry is not None and again.warnings == built.warnings != []
    assert any(line.startswith("cache: reusing") for line in lines)
    assert any("decoded with warnings" in line for line in lines)
    assert capfd.readouterr().err == ""
