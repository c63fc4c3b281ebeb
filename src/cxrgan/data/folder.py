"""A folder of chest X-rays → one uint8 array, decoded once, in parallel, optionally cached.

`load_folder` scans the folder (scan.py: a stat() per file), then either reuses the
decode-once cache (cache.py: a memory-mapped array, nothing decoded) or decodes every image in
worker processes (decode_parallel.py) and stores the result for the next run. Files that
decoded with warnings are kept; their warnings go to `ImageSet.warnings` and to the loader's
log, never to stderr.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.data.cache import CacheEntry, CacheKey, CacheUnavailable, DecodeCache, new_index
from cxrgan.data.decode_parallel import FACT_KEYS, Decoded, decode_files
from cxrgan.data.fit import check_target
from cxrgan.data.labels.options import LabelRequest
from cxrgan.data.labels.request import choose
from cxrgan.data.labels.rules import Selection
from cxrgan.data.scan import FileEntry, class_labels, scan_files
from cxrgan.errors import CxrganError, printable

Log = Callable[[str], None]


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
    patients: list[str] | None = None  # per image, from a label file (None: from file names)
    label_rule: dict[str, Any] | None = None  # a label file's rule and its counts (rules.py)

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


def load_folder(
    root: Path,
    image_size: int,
    fit: str = "crop",
    workers: int = 0,
    progress: bool = True,
    cache_dir: Path | None = None,
    log: Log | None = None,
    labels: LabelRequest | None = None,
) -> ImageSet:
    """Every readable image under `root` as an ImageSet; unreadable files are skipped, listed.

    cache_dir: use the decode-once cache there (None: decode everything, write nothing).
    log: receives the cache's one-line messages ("cache: reusing ..." / "cache: building ...").
    labels: a label file and its rule choose the images, their classes and patients
    (docs/labels.md); without one, labels come from subfolders (see class_labels).
    """
    check_target(image_size, fit)
    root = Path(root).expanduser().resolve()
    entries = scan_files(root)
    chosen = None
    if labels is not None:
        entries, chosen = choose(root, entries, labels)  # checked before anything is written
    if cache_dir is None:
        data = image_set(root, decode_files(entries, image_size, fit, workers, progress))
    else:
        only = None if chosen is None else frozenset(e.rel for e in entries)
        data = _load_cached(root, entries, image_size, fit, workers, progress, Path(cache_dir), log,
                            only)  # fmt: skip
    if chosen is not None:
        data = with_labels(data, chosen)
    if data.warnings and log is not None:
        log(warnings_summary(data.warnings))
    return data


def with_labels(data: ImageSet, selection: Selection) -> ImageSet:
    """The images' classes and patients as the label file's selection gives them."""
    class_of = selection.class_of()
    patient_of = dict(zip(selection.paths, selection.patients, strict=True))
    index = {name: i for i, name in enumerate(selection.classes)}
    data.classes = list(selection.classes)
    data.labels = np.array([index[class_of[p]] for p in data.paths], dtype=np.int64)
    data.patients = [patient_of[p] for p in data.paths]
    data.label_rule = selection.record()
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
    only: frozenset[str] | None = None,
) -> ImageSet:
    """only: the files a label file chose (the rest of the folder is not part of the key)."""
    say = log if log is not None else (lambda _msg: None)
    key = CacheKey(root, tuple(e.stat_key for e in entries), image_size, fit)
    cache = DecodeCache(cache_dir, key)
    hit = cache.load()
    if hit is None:
        try:
            with cache.build_lock(say):
                hit = cache.load()  # another run may have built it while we waited
                if hit is None:
                    return _build(cache, entries, workers, progress, say, only)
        except CacheUnavailable as exc:
            say(f"cache: {exc}; decoding without a cache")
            return image_set(root, decode_files(entries, image_size, fit, workers, progress))
    say(f"cache: reusing {hit.path} ({len(hit.images)} images)")
    return _from_entry(root, hit)


def _build(
    cache: DecodeCache, entries: list[FileEntry], workers: int, progress: bool, say: Log,
    only: frozenset[str] | None,
) -> ImageSet:  # fmt: skip
    """Decode straight into a new entry's images.npy (streamed: the collection is never in
    memory at once), then publish it and read it back memory-mapped."""
    key = cache.key
    reason = cache.stale_reason()
    detail = f"; previous cache out of date: {reason}" if reason else ""
    say(f"cache: building {cache.entry} ({len(entries)} files{detail})")
    start = time.perf_counter()
    with cache.building() as build:
        decoded = decode_files(entries, key.image_size, key.fit, workers, progress,
                               into=build.rows)  # fmt: skip
        ok, skipped = _split_records(decoded)
        _require_some(key.root, ok, skipped)  # nothing readable: an error, nothing cached
        now = [e for e in scan_files(key.root) if only is None or e.rel in only]
        if tuple(e.stat_key for e in now) != key.files:
            say("cache: files changed while decoding; not cached this time")
            return _decoded_set(key.root, build.unpublished(), decoded)
        try:
            build.publish(_index(key, decoded))
        except CacheUnavailable as exc:
            say(f"cache: {exc}; continuing without a cache")
            return _decoded_set(key.root, build.unpublished(), decoded)
    hit = cache.load()
    if hit is None:
        raise CxrganError(f"cache: {cache.entry} did not read back after it was written; "
                          "rerun, or run with --no-cache")  # fmt: skip
    seconds = time.perf_counter() - start
    say(f"cache: built {hit.path} ({len(hit.images)} images, {_human(hit.images.nbytes)}, "
        f"{seconds:.1f}s)")  # fmt: skip
    return _from_entry(key.root, hit)


def _index(key: CacheKey, decoded: Decoded) -> dict[str, Any]:
    """index.json: the key's inputs, then per image (in array order) and per skipped file."""
    index = new_index(key)
    ok, skipped = _split_records(decoded)
    names = class_labels(ok)
    index["classes"] = sorted(set(names))
    readable = [r for r in decoded.records if not r["reason"]]
    index["images"] = [_image_record(r, name) for r, name in zip(readable, names, strict=True)]
    index["skipped"] = [{"path": p, "reason": why} for p, why in skipped]
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
    if decoded.images is None:
        raise ValueError("decode_files streamed the pixels elsewhere; pass them in")
    return _decoded_set(root, decoded.images, decoded)


def _decoded_set(root: Path, images: np.ndarray, decoded: Decoded) -> ImageSet:
    ok, skipped = _split_records(decoded)
    if len(ok) != len(images):
        raise ValueError("decode_files was asked to drop pixels; ImageSet needs them all")
    data = _assemble(root, images, ok, skipped, None)
    data.warnings = _warnings_of(decoded.records)
    return data


def _split_records(decoded: Decoded) -> tuple[list[str], list[tuple[str, str]]]:
    """(readable paths, (skipped path, reason)), in the folder's order."""
    ok = [r["path"] for r in decoded.records if not r["reason"]]
    skipped = [(r["path"], r["reason"]) for r in decoded.records if r["reason"]]
    return ok, skipped


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
    _require_some(root, paths, skipped)
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


def _require_some(root: Path, paths: list[str], skipped: list[tuple[str, str]]) -> None:
    if not paths:
        example = f", e.g. {printable(skipped[0][0])}: {skipped[0][1]}" if skipped else ""
        raise CxrganError(
            f"no readable images in {printable(root)} ({len(skipped)} files skipped{example})"
        )
