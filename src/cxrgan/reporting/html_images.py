"""Images as PNG data URIs: embedded as they are where possible, else downscaled, with
thumbnails and diversity scores of sample grids cached by file identity."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from cxrgan.reporting.diversity import grid_diversity

THUMB_WIDTH = 132
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
class Img:
    uri: str
    width: int
    height: int
    nbytes: int


def _png_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, colour type) from a PNG's IHDR, without decoding it."""
    if data[:8] != PNG_MAGIC or len(data) < 26 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"), data[25]


def _encode(im: Image.Image) -> Img:
    if im.mode not in ("L", "RGB", "RGBA"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    data = buf.getvalue()
    return Img(_uri(data), im.width, im.height, len(data))


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def load_image(path: Path, max_width: int | None = None) -> Img | None:
    """A PNG data URI of the file, as is when it is a PNG that fits, else re-encoded/downscaled."""

    def compute() -> Img:
        data = path.read_bytes()
        head = _png_header(data)
        # Grayscale/palette PNGs that fit go in as they are (no decode: fast, and byte-exact).
        if head and head[2] in (0, 3, 4) and (max_width is None or head[0] <= max_width):
            _verify_png(data)
            return Img(_uri(data), head[0], head[1], len(data))
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
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()  # checks chunks and CRCs without decoding the pixels
    except Exception as exc:  # Pillow raises many types for a broken file
        raise ValueError(f"broken PNG: {exc}") from exc


def _is_gray(im: Image.Image) -> bool:
    r, g, b = im.split()[:3]
    return r.tobytes() == g.tobytes() == b.tobytes()


def thumbnail(path: Path, tile: int | None) -> Img | None:
    """The top-left 4×2 tiles of a sample grid (legible when small), THUMB_WIDTH wide."""

    def compute() -> Img:
        with Image.open(path) as im:
            im.load()
            if tile:
                step = tile + 2
                im = im.crop((0, 0, min(im.width, 2 + 4 * step), min(im.height, 2 + 2 * step)))
            height = max(1, round(im.height * THUMB_WIDTH / im.width))
            return _encode(im.resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS))

    return _cached("thumb", path, tile, compute)


def cached_grid_diversity(path: Path, tile: int | None, classes: int = 0) -> float | None:
    """Diversity of a saved sample grid (a conditional one's: its least varied class band),
    computed once per file version."""
    compute = lambda: grid_diversity(path, image_size=tile, classes=classes)  # noqa: E731
    value = _cached("div", path, (tile, classes), compute)
    return value if isinstance(value, float) and math.isfinite(value) else None
