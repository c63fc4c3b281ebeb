"""A folder of chest X-rays → one uint8 array, decoded once, in parallel, optionally cached.

`load_folder` scans the folder (a stat() per file), then either reuses the decode-once cache
(see cache.py: a memory-mapped array, nothing decoded) or decodes every image in worker
processes. Each worker reads a file's bytes once for its sha256, reads its header facts
(`describe`) and decodes it at reduced size (`read_gray(path, size)`) before fitting it.
Warnings the decoders raise (Pillow's corrupt-EXIF and decompression-bomb warnings) are caught
per file: a skipped file's reason quotes them, a kept file's go to `ImageSet.warnings` and to
the loader's log, never to stderr.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cxrgan.data.cache import (
    CacheEntry,
    CacheKey,
    CacheUnavailable,
    DecodeCache,
    FileStat,
    new_index,
)
from cxrgan.data.decode import collect_warnings, describe, is_image_candidate, read_gray
from cxrgan.data.fit import FIT_POLICIES
from cxrgan.data.preprocess import fit_square
from cxrgan.errors import CxrganError, UnreadableImage, printable

Log = Callable[[str], None]

NOT_AN_IMAGE = "not an image file"
# Folder names that hold a split rather than a class (the Kaggle layout has train/ and test/).
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing"})
# describe() facts worth keeping per file (small, JSON-friendly, never patient data).
FACT_KEYS = (
    "format", "mode", "width", "height", "bit_depth", "frames", "photometric_interpretation",
    "bits_stored", "transfer_syntax", "compressed", "decodable",
)  # fmt: skip


@dataclass
class ImageSet:
    """Preprocessed training images and what we know about where they came from."""

    images: np.ndarray  # (N, S, S) uint8, gray, 0 = black; a copy-on-write memmap if cached
    labels: np.ndarray  # (N,) int64 index into `classes`
    classes: list[str]
    paths: list[str]  # relative to `root`, posix separators
    root: Path | None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, warning), kept files
    synthetic: bool = False
    cache_entry: Path | None = None  # the cache entry the images were read from, if any

    def __len__(self) -> int:
        return len(self.images)

    @property
    def class_counts(self) -> dict[str, int]:
        counts = Counter(int(i) for i in self.labels)
        return {name: counts.get(i, 0) for i, name in enumerate(self.classes)}

    @property
    def fingerprint(self) -> str:
        """Identifies the file list (not the pixels): same folder, same fingerprint."""
        return hashlib.sha256("\n".join(self.paths).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FileEntry:
    """One file found under the root, with the stat() facts the cache key uses."""

    location: str  # absolute path (a str: building 5,000 Path objects costs more than the scan)
    rel: str  # relative to the root, posix separators
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        return Path(self.location)

    @property
    def stat_key(self) -> FileStat:
        return (self.rel, self.size, self.mtime_ns)


@dataclass
class Decoded:
    """The result of decoding a list of files: kept pixels plus one record per file."""

    images: np.ndarray  # (K, S, S) uint8: the readable files that were asked to be kept
    records: list[dict[str, Any]]  # per file, in order: path, bytes, reason ("" = ok), row, ...


# --- scanning ----------------------------------------------------------------------------


def scan_files(root: Path) -> list[FileEntry]:
    """Every file under `root`, recursively, sorted by relative path; one stat() each.

    Names starting with "." (files and folders) are ignored; symlinked folders are followed
    once each.
    """
    root = Path(root)
    if not root.exists():
        raise CxrganError(f"data folder not found: {printable(root)}")
    if not root.is_dir():
        raise CxrganError(f"--data must be a folder, got a file: {printable(root)}")
    found: list[FileEntry] = []
    _walk(str(root), "", found, set())
    if not found:
        raise CxrganError(f"data folder is empty: {printable(root)}")
    return sorted(found, key=lambda e: e.rel)


def _walk(folder: str, prefix: str, found: list[FileEntry], seen: set[tuple[int, int]]) -> None:
    try:
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop
            return
        seen.add((st.st_dev, st.st_ino))
        with os.scandir(folder) as it:
            children = list(it)
    except OSError as exc:
        raise CxrganError(
            f"cannot read folder {printable(folder)} ({exc.strerror or exc})"
        ) from exc
    for child in children:
        if child.name.startswith("."):
            continue
        rel = prefix + child.name
        try:
            if child.is_dir():
                _walk(child.path, rel + "/", found, seen)
            elif child.is_file():
                st = child.stat()
                found.append(FileEntry(child.path, rel, st.st_size, st.st_mtime_ns))
        except OSError:
            continue  # vanished or a dangling link: not part of the data set


def scan_folder(root: Path) -> list[Path]:
    """All files under `root` (see scan_files), as paths."""
    return [e.path for e in scan_files(root)]


# --- labels ------------------------------------------------------------------------------


def class_labels(paths: Sequence[str]) -> list[str]:
    """The class of each relative path: the first folder level below the root that tells files
    apart.

    Normally the immediate subfolder (NORMAL/, PNEUMONIA/). Two layouts get a deeper level:
    a single wrapper folder every file sits under (chest_xray/...), and split folders
    (train/, val/, test/), so the whole Kaggle tree `chest_xray/{train,test}/{NORMAL,...}`
    is labelled NORMAL / PNEUMONIA too. Files at the level chosen have no class ("").
    """
    dirs = [tuple(p.split("/")[:-1]) for p in paths]
    depth = 0
    while dirs and all(len(d) > depth + 1 for d in dirs) and len({d[depth] for d in dirs}) == 1:
        depth += 1
    if dirs and all(len(d) > depth + 1 and d[depth].lower() in SPLIT_NAMES for d in dirs):
        depth += 1
    return [d[depth] if len(d) > depth else "" for d in dirs]


def check_target(image_size: int, fit: str) -> None:
    """The square every image is fitted to must make sense before any file is touched."""
    if fit not in FIT_POLICIES:
        raise CxrganError(f"fit must be one of {', '.join(FIT_POLICIES)}, got {fit!r}")
    if image_size < 1:
        raise CxrganError(f"image size must be positive, got {image_size}")


# --- decoding ----------------------------------------------------------------------------


def _decode_one(job: tuple[str, int, str, bool]) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Worker: hash the bytes, read header facts, decode + fit. Never raises."""
    path_text, size, fit, keep = job
    path = Path(path_text)
    try:
        # Read once for the hash; read_gray's own read of the same file then comes from
        # the page cache, so the hash costs about a sha256 over bytes already in memory.
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return None, {"reason": f"cannot read file ({exc.strerror or exc})"}
    meta: dict[str, Any] = {"sha256": digest}
    with collect_warnings() as warned:
        try:
            facts = describe(path)
            meta.update({k: facts[k] for k in FACT_KEYS if k in facts})
        except Exception:  # the decode below reports why; facts are a bonus
            pass
        try:
            pixels = fit_square(read_gray(path, size), size, fit)
        except UnreadableImage as exc:
            reason = _without_path(str(exc), path_text)
        except Exception as exc:  # a broken file must never take the whole run down
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = ""
    if reason:
        also = f" (warnings: {'; '.join(warned)})" if warned else ""
        return None, {**meta, "reason": reason + also}
    if warned:
        meta["warnings"] = warned
    return (pixels if keep else None), meta


def _without_path(message: str, path: str) -> str:
    """read_gray prefixes '<path>: '; the caller already shows the relative path."""
    return message.removeprefix(f"{path}: ")


def decode_files(
    entries: Sequence[FileEntry],
    image_size: int,
    fit: str = "crop",
    workers: int = 0,
    progress: bool = True,
    keep: Callable[[int], bool] | None = None,
    desc: str = "decoding images",
) -> Decoded:
    """Decode `entries` in parallel; pixels are kept for readable files where keep(i) (all
    by default). Non-image files (by name / DICOM preamble) are recorded, not decoded."""
    records: list[dict[str, Any]] = [
        {"path": e.rel, "bytes": e.size, "mtime_ns": e.mtime_ns} for e in entries
    ]
    todo = []
    for i, e in enumerate(entries):
        if is_image_candidate(e.path):
            todo.append(i)
        else:
            records[i]["reason"] = NOT_AN_IMAGE
    jobs = [(entries[i].location, image_size, fit, keep is None or keep(i)) for i in todo]
    out = np.empty((sum(j[3] for j in jobs), image_size, image_size), dtype=np.uint8)
    rows = 0
    for i, (pixels, meta) in zip(todo, _map(jobs, workers, progress, desc), strict=True):
        records[i].update(meta)
        records[i].setdefault("reason", "")
        if pixels is not None:
            out[rows] = pixels
            records[i]["row"] = rows
            rows += 1
    for r in records:
        r.setdefault("row", None)
    return Decoded(out[:rows].copy() if rows < len(out) else out, records)


def worker_count(jobs: int, workers: int = 0) -> int:
    """`workers` if set, else one process per 64 files up to the CPUs this process may use."""
    if workers > 0:
        return workers
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(jobs // 64, cpus))


def _map(jobs: list[tuple[str, int, str, bool]], workers: int, progress: bool, desc: str) -> list:
    bar = {"total": len(jobs), "desc": desc, "unit": "img", "disable": not progress}
    workers = worker_count(len(jobs), workers)
    if workers <= 1 or len(jobs) < 2:
        return [_decode_one(j) for j in tqdm(jobs, **bar)]
    # Small chunks: file sizes vary 50x, so big chunks leave one worker idle at the end.
    chunk = max(1, min(16, len(jobs) // (workers * 8)))
    try:
        with ProcessPoolExecutor(workers) as pool:
            return list(tqdm(pool.map(_decode_one, jobs, chunksize=chunk), **bar))
    except BrokenProcessPool as exc:  # a decoder crashed hard (or ran out of memory)
        raise CxrganError(
            f"a decoding process died ({exc}); run with --workers 1 to see which file causes it"
        ) from exc


# --- loading -----------------------------------------------------------------------------


def load_folder(
    root: Path,
    image_size: int,
    fit: str = "crop",
    workers: int = 0,
    progress: bool = True,
    cache_dir: Path | None = None,
    log: Log | None = None,
) -> ImageSet:
    """Every readable image under `root` as an ImageSet; unreadable files are skipped, listed.

    cache_dir: use the decode-once cache there (None: decode everything, write nothing).
    log: receives the cache's one-line messages ("cache: reusing ..." / "cache: building ...").
    Labels come from subfolders (see class_labels).
    """
    check_target(image_size, fit)
    root = Path(root).expanduser().resolve()
    entries = scan_files(root)
    if cache_dir is None:
        data = image_set(root, decode_files(entries, image_size, fit, workers, progress))
    else:
        data = _load_cached(root, entries, image_size, fit, workers, progress, Path(cache_dir), log)
    if data.warnings and log is not None:
        log(warnings_summary(data.warnings))
    return data


def warnings_summary(warned: list[tuple[str, str]], show: int = 3) -> str:
    """One line about the files that decoded with warnings (kept, but worth a look)."""
    files = list(dict.fromkeys(path for path, _ in warned))
    shown = "; ".join(f"{printable(path)}: {printable(w)}" for path, w in warned[:show])
    more = f"; … {len(warned) - show} more" if len(warned) > show else ""
    return f"{len(files)} file(s) decoded with warnings, kept: {shown}{more}"


def _load_cached(
    root: Path,
    entries: list[FileEntry],
    image_size: int,
    fit: str,
    workers: int,
    progress: bool,
    cache_dir: Path,
    log: Log | None,
) -> ImageSet:
    say = log if log is not None else (lambda _msg: None)
    key = CacheKey(root, tuple(e.stat_key for e in entries), image_size, fit)
    cache = DecodeCache(cache_dir, key)
    hit = cache.load()
    if hit is None:
        try:
            with cache.build_lock(say):
                hit = cache.load()  # another run may have built it while we waited
                if hit is None:
                    return _build(cache, entries, workers, progress, say)
        except CacheUnavailable as exc:
            say(f"cache: {exc}; decoding without a cache")
            return image_set(root, decode_files(entries, image_size, fit, workers, progress))
    say(f"cache: reusing {hit.path} ({len(hit.images)} images)")
    return _from_entry(root, hit)


def _build(
    cache: DecodeCache, entries: list[FileEntry], workers: int, progress: bool, say: Log
) -> ImageSet:
    key = cache.key
    reason = cache.stale_reason()
    detail = f"; previous cache out of date: {reason}" if reason else ""
    say(f"cache: building {cache.entry} ({len(entries)} files{detail})")
    start = time.perf_counter()
    decoded = decode_files(entries, key.image_size, key.fit, workers, progress)
    data = image_set(key.root, decoded)  # raises when nothing is readable: nothing cached
    if tuple(e.stat_key for e in scan_files(key.root)) != key.files:
        say("cache: files changed while decoding; not cached this time")
        return data
    try:
        cache.store(data.images, _index(key, decoded, data))
    except CacheUnavailable as exc:
        say(f"cache: {exc}; continuing without a cache")
        return data
    hit = cache.load()
    if hit is None:
        say(f"cache: {cache.entry} did not read back; continuing without a cache")
        return data
    seconds = time.perf_counter() - start
    say(f"cache: built {hit.path} ({len(hit.images)} images, {_human(hit.images.nbytes)}, "
        f"{seconds:.1f}s)")  # fmt: skip
    return _from_entry(key.root, hit)


def _index(key: CacheKey, decoded: Decoded, data: ImageSet) -> dict[str, Any]:
    """index.json: the key's inputs, then per image (in array order) and per skipped file."""
    index = new_index(key)
    index["classes"] = data.classes
    readable = [r for r in decoded.records if not r["reason"]]
    labels = [data.classes[i] for i in data.labels]
    index["images"] = [_image_record(r, name) for r, name in zip(readable, labels, strict=True)]
    index["skipped"] = [{"path": p, "reason": why} for p, why in data.skipped]
    return index


def _human(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 100_000 else f"{nbytes / 1e3:.0f} kB"


def _image_record(record: dict[str, Any], label: str) -> dict[str, Any]:
    """What index.json keeps per image: path, label, original size, hash, format facts."""
    out = {"path": record["path"], "label": label}
    out.update({k: record[k] for k in ("width", "height", "sha256") if k in record})
    out.update({k: record[k] for k in FACT_KEYS if k in record and k not in out})
    if record.get("warnings"):
        out["warnings"] = record["warnings"]
    return out


def image_set(root: Path, decoded: Decoded) -> ImageSet:
    """ImageSet from freshly decoded files; CxrganError if none was readable."""
    ok = [r["path"] for r in decoded.records if not r["reason"]]
    skipped = [(r["path"], r["reason"]) for r in decoded.records if r["reason"]]
    if len(ok) != len(decoded.images):
        raise ValueError("decode_files was asked to drop pixels; ImageSet needs them all")
    data = _assemble(root, decoded.images, ok, skipped, None)
    data.warnings = _warnings_of(decoded.records)
    return data


def _warnings_of(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["path"], w) for r in records if not r.get("reason") for w in r.get("warnings", ())]


def _from_entry(root: Path, entry: CacheEntry) -> ImageSet:
    paths = [r["path"] for r in entry.index["images"]]
    skipped = [(s["path"], s["reason"]) for s in entry.index["skipped"]]
    data = _assemble(root, entry.images, paths, skipped, entry.path)
    data.warnings = _warnings_of(entry.index["images"])  # recorded when the cache was built
    return data


def _assemble(
    root: Path,
    images: np.ndarray,
    paths: list[str],
    skipped: list[tuple[str, str]],
    cache_entry: Path | None,
) -> ImageSet:
    if not paths:
        example = f", e.g. {printable(skipped[0][0])}: {skipped[0][1]}" if skipped else ""
        raise CxrganError(
            f"no readable images in {printable(root)} ({len(skipped)} files skipped{example})"
        )
    names = class_labels(paths)
    classes = sorted(set(names))
    index = {name: i for i, name in enumerate(classes)}
    return ImageSet(
        images=images,
        labels=np.array([index[x] for x in names], dtype=np.int64),
        classes=classes,
        paths=paths,
        root=root,
        skipped=skipped,
        cache_entry=cache_entry,
    )
