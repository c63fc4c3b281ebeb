"""Decode a list of files in worker processes: kept pixels plus one record per file.

Each worker reads a file's bytes once for its sha256, reads its header facts (`describe`) and
decodes it at reduced size (`read_gray(path, size)`) before fitting it. Warnings the decoders
raise (Pillow's corrupt-EXIF and decompression-bomb warnings) are caught per file: a skipped
file's reason quotes them, a kept file's go into its record, never to stderr. A broken file is
a record with a reason, never an exception.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from cxrgan.data.decode import collect_warnings, describe, is_image_candidate, read_gray
from cxrgan.data.preprocess import fit_square
from cxrgan.data.scan import FileEntry
from cxrgan.errors import CxrganError, UnreadableImage

NOT_AN_IMAGE = "not an image file"
# describe() facts worth keeping per file (small, JSON-friendly, never patient data).
FACT_KEYS = (
    "format", "mode", "width", "height", "bit_depth", "frames", "photometric_interpretation",
    "bits_stored", "transfer_syntax", "compressed", "decodable",
)  # fmt: skip


class Rows(Protocol):
    """Where streamed pixels go, in order (e.g. npy_stream.NpyRowWriter)."""

    def append(self, pixels: np.ndarray) -> None: ...


@dataclass
class Decoded:
    """The result of decoding a list of files: kept pixels plus one record per file."""

    images: np.ndarray | None  # (K, S, S) uint8, the readable kept files; None: streamed out
    records: list[dict[str, Any]]  # per file, in order: path, bytes, reason ("" = ok), row, ...


def decode_files(
    entries: Sequence[FileEntry],
    image_size: int,
    fit: str = "crop",
    workers: int = 0,
    progress: bool = True,
    keep: Callable[[int], bool] | None = None,
    desc: str = "decoding images",
    into: Callable[[int], Rows] | None = None,
) -> Decoded:
    """Decode `entries` in parallel; pixels are kept for readable files where keep(i) (all
    by default). Non-image files (by name / DICOM preamble) are recorded, not decoded.

    into: called once with the most rows that can come, it gives the place the kept pixels
    are appended to as they arrive (the cache's images.npy), instead of one array in memory;
    the result's images are then None."""
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
    capacity = sum(j[3] for j in jobs)
    out = None if into is not None else np.empty((capacity, image_size, image_size), np.uint8)
    sink = into(capacity) if into is not None else None
    rows = 0
    for i, (pixels, meta) in zip(todo, _map(jobs, workers, progress, desc), strict=True):
        records[i].update(meta)
        records[i].setdefault("reason", "")
        if pixels is not None:
            if sink is not None:
                sink.append(pixels)
            else:
                out[rows] = pixels
            records[i]["row"] = rows
            rows += 1
    for r in records:
        r.setdefault("row", None)
    if out is not None and rows < len(out):
        out = out[:rows].copy()
    return Decoded(out, records)


def worker_count(jobs: int, workers: int = 0) -> int:
    """`workers` if set, else one process per 64 files up to the CPUs this process may use."""
    if workers > 0:
        return workers
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(jobs // 64, cpus))


Result = tuple[np.ndarray | None, dict[str, Any]]


def _map(
    jobs: list[tuple[str, int, str, bool]], workers: int, progress: bool, desc: str
) -> Iterator[Result]:
    """The jobs' results in order, as they come (the caller writes each away: a collection
    larger than memory never sits in one list)."""
    bar = {"total": len(jobs), "desc": desc, "unit": "img", "disable": not progress}
    workers = worker_count(len(jobs), workers)
    if workers <= 1 or len(jobs) < 2:
        yield from (_decode_one(j) for j in tqdm(jobs, **bar))
        return
    # Small chunks: file sizes vary 50x, so big chunks leave one worker idle at the end.
    chunk = max(1, min(16, len(jobs) // (workers * 8)))
    try:
        with ProcessPoolExecutor(workers) as pool:
            yield from tqdm(pool.map(_decode_one, jobs, chunksize=chunk), **bar)
    except BrokenProcessPool as exc:  # a decoder crashed hard (or ran out of memory)
        raise CxrganError(
            f"a decoding process died ({exc}); run with --workers 1 to see which file causes it"
        ) from exc


def _decode_one(job: tuple[str, int, str, bool]) -> Result:
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
