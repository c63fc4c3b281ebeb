"""Reading an offline W&B run back: the records of its run-<id>.wandb files, as W&B's own
protobuf messages (wandb.proto.wandb_internal_pb2.Record).

wandb 0.31 ships no Python reader for these files (its DataStore went with the Go core), so this
reads their framing, which `wandb sync` reads too: a 7-byte header (":W&B", magic, version),
then 32 KiB blocks of chunks, each a 7-byte header (CRC-32, length, type: full, first, middle,
last) before its bytes; a block's tail shorter than a chunk header is padding.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    ident, _magic, _version = struct.unpack("<4sHB", data[:7])
    assert ident == b":W&B", ident
    pos, pending = 7, b""
    while pos + CHUNK_HEADER.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER.size:
            pos += left
            continue
        _crc, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        if kind == 0 and length == 0:  # zero padding up to the block's end
            pos += left
            continue
        start = pos + CHUNK_HEADER.size
        pending += data[start : start + length]
        pos = start + length
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def offline_runs(run_dir: Path) -> list[Path]:
    """RUN/wandb/offline-run-*/run-*.wandb, oldest first (one per training session)."""
    return sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _values(items: Any) -> dict[str, Any]:
    return {_key(i): json.loads(i.value_json) for i in items if _key(i)}


def read_run(path: Path) -> dict[str, Any]:
    """One session's run id, config, history rows and summary updates, values decoded."""
    out: dict[str, Any] = {"id": None, "config": {}, "history": [], "summary": {}}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["id"] = record.run.run_id
            out["config"].update(_values(record.run.config.update))
        elif kind == "config":
            out["config"].update(_values(record.config.update))
        elif kind == "history":
            out["history"].append(_values(record.history.item))
        elif kind == "summary":
            out["summary"].update(_values(record.summary.update))
    return out
