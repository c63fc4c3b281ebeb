"""Write a (N, S, S) uint8 .npy file a chunk of rows at a time, without holding it in memory.

The decode-once cache of a large collection is larger than the machine's memory (ChestX-ray14
at 512 px: about 29 GB), so its images.npy is written as the images arrive: at most one chunk
of rows is held in memory. `np.lib.format.open_memmap` lays the file out (header, then the
full, still sparse, array); the rows then go in with ordinary file writes rather than through
the mapping, since pages written through a mapping count towards the writer's resident memory
until it is closed. When fewer rows arrive than were reserved (files that did not decode), the
header is rewritten for the rows written and the file truncated after them: numpy pads the
header so that the first axis can change without moving the data.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

CHUNK_BYTES = 64 << 20  # rows held in memory before a write: 256 images at 512 px


class NpyRowWriter:
    """Appends (S, S) uint8 rows to a new .npy file of at most `capacity` rows, in chunks."""

    def __init__(self, path: Path, capacity: int, size: int, chunk_bytes: int | None = None):
        self.path = Path(path)
        self.capacity, self.size = capacity, size
        layout = np.lib.format.open_memmap(
            self.path, mode="w+", dtype=np.uint8, shape=(capacity, size, size)
        )
        self.offset = int(layout.offset)  # where row 0 starts, after the header
        del layout  # only the layout was wanted: unmapped before any row is written
        rows = max(1, (chunk_bytes or CHUNK_BYTES) // max(1, size * size))
        self._chunk = np.empty((min(rows, max(1, capacity)), size, size), dtype=np.uint8)
        self._fill = 0
        self.rows = 0  # rows written to the file so far
        self.chunks_written = 0
        self._fh = self.path.open("r+b")

    def append(self, pixels: np.ndarray) -> None:
        if self.rows + self._fill >= self.capacity:
            raise ValueError(f"{self.path}: more than the {self.capacity} rows reserved")
        self._chunk[self._fill] = pixels
        self._fill += 1
        if self._fill == len(self._chunk):
            self._write_chunk()

    def extend(self, images: np.ndarray) -> None:
        for row in images:
            self.append(row)

    def close(self) -> int:
        """Write what is left, fit the header to the rows written, sync; the row count."""
        if self._fh.closed:
            return self.rows
        try:
            self._write_chunk()
            if self.rows < self.capacity:
                self._shrink()
            self._fh.flush()
            os.fsync(self._fh.fileno())  # a power cut after the rename must not expose a torn file
        finally:
            self._fh.close()
        return self.rows

    def abort(self) -> None:
        self._fh.close()

    def _write_chunk(self) -> None:
        if not self._fill:
            return
        row_bytes = self.size * self.size
        self._fh.seek(self.offset + self.rows * row_bytes)
        self._fh.write(memoryview(self._chunk[: self._fill]).cast("B"))
        self.rows += self._fill
        self._fill = 0
        self.chunks_written += 1

    def _shrink(self) -> None:
        header = _header((self.rows, self.size, self.size))
        if len(header) != self.offset:  # numpy pads for this; never seen otherwise
            raise OSError(f"{self.path}: the .npy header cannot be resized in place")
        self._fh.seek(0)
        self._fh.write(header)
        self._fh.truncate(self.offset + self.rows * self.size * self.size)


def _header(shape: tuple[int, int, int]) -> bytes:
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
         "shape": shape}  # fmt: skip
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, d)
    return buf.getvalue()
