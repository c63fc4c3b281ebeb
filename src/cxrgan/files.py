"""Writing files so that a reader never sees half of one: a temporary file, then a rename; the
leftovers of writers that were killed; write errors (full or read-only disks) in one line; and
JSON that strict readers accept."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Permissions a plain open() would give; mkstemp alone makes every file private (0600).
FILE_MODE = 0o666 & ~_umask()


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` to write to; it replaces `path` when the block succeeds.

    `suffix` lets writers that pick a format from the extension (Pillow, matplotlib) see it.
    On failure `path` keeps its old content and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as exc:
        exc.filename = str(path)
        raise
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is None or exc.filename == tmp:  # name the file the user knows
            exc.filename = str(path)
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """`data` as indented strict JSON (json_text) at `path`, through atomic_path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(data, indent=2) + "\n")


# --------------------------------------------------------------------------------------------
# Strict JSON: every JSON file cxrgan writes is RFC 8259 JSON, which has no NaN or Infinity.
# json.dumps would write them as bare literals that browsers, jq and pandas' strict readers
# reject; they are written as null, which cxrgan's readers take as "no value".


def json_text(value: Any, **dumps: Any) -> str:
    """json.dumps of json_ready(value), refusing anything non-finite that is left."""
    return json.dumps(json_ready(value), allow_nan=False, **dumps)


def json_ready(value: Any) -> Any:
    """`value` with NaN and ±inf as None, numpy scalars as Python numbers, tuples as lists and
    mapping keys as strings (as JSON writes them), all the way down."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if not isinstance(value, str | int | float | bool) and hasattr(value, "item"):
        value = value.item()  # a numpy scalar (numpy is not imported here: see --help's startup)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# Leftovers of killed writes

# atomic_path's temporary names: "." + the target's name + "." + mkstemp's 8 random characters
# + the suffix (".tmp", or the target's own extension for writers that pick a format from it).
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}(?P<suffix>\.[A-Za-z0-9]+)$")


def is_temp_leftover(path: Path) -> bool:
    """Whether `path` is a temporary file that atomic_path left behind when its writer died."""
    m = _TEMP_NAME.match(path.name)
    return bool(m) and (m["suffix"] == ".tmp" or m["target"].endswith(m["suffix"]))


def remove_temp_leftovers(folder: Path, recursive: bool = True) -> list[Path]:
    """Delete atomic_path's temporary files under `folder` (a killed writer leaves one: the
    target itself was never touched); the paths removed. Call only while no writer is running
    there (a run directory: under its lock)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(".*") if recursive else folder.glob(".*")
    removed = []
    for path in sorted(found):
        if path.is_file() and not path.is_symlink() and is_temp_leftover(path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


# --------------------------------------------------------------------------------------------
# Write errors: full, read-only or missing disks as one line that names the path and the space

# errno values that can only come from writing: the disk is full, over quota or read-only.
# (Permissions and paths through files are checked before a run starts: check_writable.)
WRITE_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EROFS", "EFBIG") if hasattr(errno, name)
)


def is_write_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS


def _existing(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (what disk_usage can measure)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_space(path: Path) -> str:
    """Free space on the disk that holds `path` (or its nearest existing folder), for humans."""
    try:
        free = shutil.disk_usage(_existing(path)).free
    except OSError:
        return "unknown space"
    return f"{human_bytes(free)} free"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def write_error_message(exc: OSError, path: Path | str | None = None) -> str:
    """One line: which path could not be written, why, and the free space on its disk."""
    target = Path(exc.filename if exc.filename else path if path is not None else ".")
    why = exc.strerror or str(exc)
    return f"cannot write {target}: {why} ({free_space(target)} on its disk)"


def check_writable(folder: Path, what: str) -> None:
    """Fail now, with one line, if `folder` (existing or to be created) cannot take files:
    a path through a file, a read-only or full disk, no permission. Creates nothing."""
    folder = Path(folder)
    existing = _existing(folder)
    if not existing.is_dir():
        inside = "" if existing == Path(os.path.abspath(folder)) else f" ({existing} is a file)"
        raise CxrganError(f"{what} {folder} is not a folder{inside}")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".cxrgan-probe.", suffix=".tmp")
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise CxrganError(
            f"{what} {folder} is not writable: {why} in {existing} ({free_space(existing)})"
        ) from None
