"""The decode-once cache: a folder's preprocessed images as ONE uint8 array on disk.

Decoding full-size chest X-rays dominates start-up time, and the result depends only on
the files and on how they are fitted. So the first run stores the fitted images; later runs
memory-map them and decode nothing. Layout (one slot per data folder, one entry per
image size / fit policy / state of the folder):

    <cache_dir>/
    └── <folder-name>-<sha256(resolved root)[:12]>/     the slot
        ├── .lock                                    held while an entry is built
        └── <S>px-<fit>-<key[:16]>/                  an entry
            ├── images.npy                           (N, S, S) uint8, N = readable images
            └── index.json                           key, files, images, skipped (see below)

The key (`CacheKey.digest`) is a sha256 over the cache format version, the resolved root,
every file's relative path, size and mtime (a stat() each: no file is opened), the image
size and fit policy, and what decides the pixels (the source of the decoders, decode*.py and
gray_levels.py, and of preprocess.py; the Pillow and pydicom versions). Any change makes a new
key; the entry of the old key is reported as the reason for rebuilding and then deleted.

The build is streamed: decoded images go into the `.tmp-*` folder's images.npy a chunk at a
time (npy_stream.py), so building the cache of a collection larger than memory needs only a
chunk's memory; readers memory-map the result (copy-on-write) and touch only the rows they use.

Writes are atomic: an entry is built in a `.tmp-*` folder beside it and renamed into place,
so an interrupted build leaves nothing that looks usable. Builders of one slot take an
exclusive lock (a second concurrent run waits, then reuses the first one's entry); readers
take no lock, as an entry never changes after the rename.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan import __version__
from cxrgan.data.npy_stream import NpyRowWriter
from cxrgan.files import json_text

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the atomic rename still protects entries
    fcntl = None  # type: ignore[assignment]

CACHE_VERSION = 1
IMAGES_FILE = "images.npy"
INDEX_FILE = "index.json"
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"

FileStat = tuple[str, int, int]  # (relative posix path, size in bytes, mtime in ns)
Log = Callable[[str], None]


class CacheUnavailable(Exception):
    """The cache folder cannot be used (read-only, full disk...): run without a cache."""


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/cxrgan, else ~/.cache/cxrgan."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cxrgan"


def resolve_cache_dir(value: str | Path | None) -> Path:
    return Path(value).expanduser() if value else default_cache_dir()


def _pixel_code_digest() -> str:
    """What decides the pixels besides the files: the decoding code and library versions."""
    # deferred: cli/data imports this module for `cxrgan --help`; decode would import pydicom
    import PIL
    import pydicom

    from cxrgan.data import decode, decode_dicom, decode_pillow, gray_levels, preprocess

    h = hashlib.sha256()
    for module in (decode, decode_dicom, decode_pillow, gray_levels, preprocess):
        h.update(Path(module.__file__ or "").read_bytes())
    h.update(f"Pillow {PIL.__version__} pydicom {pydicom.__version__}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """Everything a cache entry depends on; computed from stat() alone."""

    root: Path  # resolved
    files: tuple[FileStat, ...]  # every file under root, sorted by path
    image_size: int
    fit: str

    @cached_property
    def digest(self) -> str:
        h = hashlib.sha256()
        head = {
            "version": CACHE_VERSION,
            "root": str(self.root),
            "image_size": self.image_size,
            "fit": self.fit,
            "pixels": _pixel_code_digest(),
        }
        h.update(json.dumps(head, sort_keys=True).encode())
        for rel, size, mtime_ns in self.files:
            h.update(f"\n{rel}\0{size}\0{mtime_ns}".encode())
        return h.hexdigest()

    @property
    def slot_name(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.root.name).strip("._") or "root"
        return f"{slug[:40]}-{hashlib.sha256(str(self.root).encode()).hexdigest()[:12]}"

    @property
    def entry_prefix(self) -> str:
        return f"{self.image_size}px-{self.fit}-"

    @property
    def entry_name(self) -> str:
        return self.entry_prefix + self.digest[:16]


@dataclass
class CacheEntry:
    """A valid entry: the memory-mapped images and the parsed index."""

    path: Path
    images: np.ndarray  # (N, S, S) uint8, copy-on-write memory map of images.npy
    index: dict[str, Any]


class DecodeCache:
    """One folder's entry for one image size and fit policy, under `cache_dir`."""

    def __init__(self, cache_dir: Path, key: CacheKey):
        self.key = key
        self.slot = Path(cache_dir) / key.slot_name
        self.entry = self.slot / key.entry_name

    # --- reading -------------------------------------------------------------------------

    def load(self) -> CacheEntry | None:
        """The entry for this key, or None when there is none or it is not intact."""
        return read_entry(self.entry, self.key)

    def stale_reason(self) -> str | None:
        """Why an older entry (same folder, size and fit) no longer fits; None if there is none."""
        old = self._stale_entries()
        if not old:
            return None
        latest = max(old, key=_mtime)
        try:
            index = json.loads((latest / INDEX_FILE).read_text())
            files = [tuple(f) for f in index["files"]]
        except (OSError, ValueError, KeyError, TypeError):
            return "the previous cache entry is unreadable"
        return describe_changes(files, self.key.files)

    # --- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def build_lock(self, log: Log | None = None) -> Iterator[None]:
        """Exclusive right to build entries of this slot (other processes wait)."""
        try:
            self.slot.mkdir(parents=True, exist_ok=True)
            fh = open(self.slot / LOCK_FILE, "a+b")  # noqa: SIM115 (held across the yield)
        except OSError as exc:
            raise CacheUnavailable(f"cannot create {self.slot} ({exc.strerror or exc})") from exc
        try:
            _lock(fh, log, self.entry)
            self._remove_leftovers()  # any .tmp-* now belongs to a build that died
            yield
        finally:
            _unlock(fh)
            fh.close()

    def store(self, images: np.ndarray, index: dict[str, Any]) -> Path:
        """Write images + index atomically as this key's entry; call under build_lock()."""
        with self.building() as build:
            build.rows(len(images)).extend(images)
            return build.publish(index)

    @contextlib.contextmanager
    def building(self, chunk_bytes: int | None = None) -> Iterator[EntryBuild]:
        """A new entry in a `.tmp-*` folder, streamed into; gone on exit unless published.
        Call under build_lock(). chunk_bytes: rows held in memory per write (npy_stream.py)."""
        tmp = self.slot / f"{TMP_PREFIX}{self.entry.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if self.entry.exists() and self.load() is None:  # torn (e.g. a disk error): replaced
            shutil.rmtree(self.entry, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
        except OSError as exc:
            raise CacheUnavailable(f"cannot write {self.entry} ({exc.strerror or exc})") from exc
        build = EntryBuild(self, tmp, chunk_bytes)
        try:
            yield build
        finally:
            build.discard()  # gone after a rename; a torn or abandoned build otherwise

    # --- helpers -------------------------------------------------------------------------

    def _stale_entries(self) -> list[Path]:
        try:
            children = list(self.slot.iterdir())
        except OSError:
            return []
        return [
            p
            for p in children
            if p.name.startswith(self.key.entry_prefix) and p.name != self.entry.name
        ]

    def _remove_leftovers(self) -> None:
        for p in self.slot.glob(f"{TMP_PREFIX}*"):
            shutil.rmtree(p, ignore_errors=True)


class EntryBuild:
    """One entry being written: `rows(n)` streams its images in, `publish` renames it into
    place; `unpublished` hands the images over without publishing (they stay readable)."""

    def __init__(self, cache: DecodeCache, tmp: Path, chunk_bytes: int | None):
        self.cache, self.tmp, self.chunk_bytes = cache, tmp, chunk_bytes
        self.writer: NpyRowWriter | None = None

    def rows(self, capacity: int) -> NpyRowWriter:
        """The images.npy writer, for at most `capacity` images (decode_files' `into`)."""
        try:
            self.writer = NpyRowWriter(self.tmp / IMAGES_FILE, capacity, self.cache.key.image_size,
                                       self.chunk_bytes)  # fmt: skip
        except OSError as exc:
            raise CacheUnavailable(f"cannot write {self.tmp} ({exc.strerror or exc})") from exc
        return self.writer

    def publish(self, index: dict[str, Any]) -> Path:
        """Finish images.npy, write index.json, rename into place, drop stale entries."""
        entry = self.cache.entry
        try:
            rows = self.writer.close() if self.writer is not None else 0
            size = self.cache.key.image_size
            index = {**index, "key": self.cache.key.digest, "shape": [rows, size, size]}
            _write_json(self.tmp / INDEX_FILE, index)
            _publish(self.tmp, entry)
        except OSError as exc:
            raise CacheUnavailable(f"cannot write {entry} ({exc.strerror or exc})") from exc
        for old in self.cache._stale_entries():
            shutil.rmtree(old, ignore_errors=True)
        return entry

    def unpublished(self) -> np.ndarray:
        """The images written, memory-mapped from the temporary file, which is then deleted
        (the mapping keeps it readable): for a build that must not become an entry."""
        if self.writer is not None:
            self.writer.close()
        return np.load(self.tmp / IMAGES_FILE, mmap_mode="c", allow_pickle=False)

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.abort()
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_entry(path: Path, key: CacheKey) -> CacheEntry | None:
    """Open an entry; None unless its index names this key and the array has its shape."""
    try:
        index = json.loads((path / INDEX_FILE).read_text())
        if index.get("key") != key.digest or index.get("version") != CACHE_VERSION:
            return None
        # "c": copy-on-write. Pages come from the page cache and are shared between runs;
        # a write (nobody should) stays private and never reaches the cache file. Unlike
        # "r" it gives a writable array, which torch.from_numpy accepts without a warning.
        images = np.load(path / IMAGES_FILE, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError):
        return None
    expected = (len(index.get("images", [])), key.image_size, key.image_size)
    if images.dtype != np.uint8 or images.shape != expected:
        return None
    return CacheEntry(path, images, index)


def describe_changes(old: Sequence[FileStat], new: Sequence[FileStat]) -> str:
    """A short human reason, e.g. '2 files added (e.g. NORMAL/a.png), 1 changed'."""
    before = {rel: (size, mtime) for rel, size, mtime in old}
    after = {rel: (size, mtime) for rel, size, mtime in new}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(r for r in after.keys() & before.keys() if after[r] != before[r])
    parts = [
        f"{len(names)} file{'s' if len(names) != 1 else ''} {verb} (e.g. {names[0]})"
        for names, verb in ((added, "added"), (removed, "removed"), (changed, "changed"))
        if names
    ]
    return ", ".join(parts) if parts else "the decoder or cache format changed"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _write_json(path: Path, value: dict[str, Any]) -> None:
    with path.open("w") as fh:
        fh.write(json_text(value, separators=(",", ":")))
        fh.flush()
        os.fsync(fh.fileno())


def _publish(tmp: Path, final: Path) -> None:
    """Rename the finished folder into place; if another process got there first, keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not final.is_dir():
            raise
        return
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _lock(fh: Any, log: Log | None, entry: Path) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if log:
            log(f"cache: waiting for another process that is building {entry.parent}")
        start = time.monotonic()
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        if log:
            log(f"cache: waited {time.monotonic() - start:.1f}s")
    except OSError as exc:  # e.g. a file system without locks: go on, renames are atomic
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise CacheUnavailable(f"cannot lock {entry.parent} ({exc.strerror or exc})") from exc


def _unlock(fh: Any) -> None:
    if fcntl is None:
        return
    with contextlib.suppress(OSError):
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def new_index(key: CacheKey) -> dict[str, Any]:
    """The header every index.json starts with (the caller adds images and skipped)."""
    return {
        "format": "cxrgan decode cache",
        "version": CACHE_VERSION,
        "cxrgan_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "root": str(key.root),
        "image_size": key.image_size,
        "fit": key.fit,
        "files": [list(f) for f in key.files],
    }
