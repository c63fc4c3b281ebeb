"""What a data folder holds: every file under it (one stat() each) and the class of each.

No file is opened here: the scan is what the decode-once cache's key is made of, so it must
stay cheap enough to run before every training run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cxrgan.data.cache import FileStat
from cxrgan.errors import CxrganError, printable

# Folder names that hold a split rather than a class (the Kaggle layout has train/ and test/).
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing"})


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
