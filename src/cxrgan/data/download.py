"""`cxrgan data download pneumoniamnist`: fetch MedMNIST+ PneumoniaMNIST and unpack it as PNGs.

The archive is one .npz per resolution (keys train_images, train_labels, val_images,
val_labels, test_images, test_labels; images uint8 (N, S, S); labels (N, 1), 0 = normal,
1 = pneumonia). It is downloaded with urllib into DEST/.download/<name>.part (resumed with an
HTTP Range request when a .part is already there), checked against its published MD5, and
only then unpacked into the layout `cxrgan train --data` reads. The transfer stops at the
archive's largest possible size (`Archive.max_bytes`, from the images it holds): a wrong
--url, or a server that sends something else, cannot fill the disk before the checksum runs;
a server that announces more, or more than the disk has free, is refused before any byte.

    DEST/{train,val,test}/{NORMAL,PNEUMONIA}/{index:05d}.png     index within the split

Source: MedMNIST v3 (MedMNIST+) on Zenodo, record 10519652; the URLs and MD5s below are
those of the medmnist package 3.0.2 (medmnist/info.py). License CC BY 4.0.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import numpy as np
from PIL import Image
from tqdm import tqdm

from cxrgan import __version__
from cxrgan.errors import CxrganError
from cxrgan.files import json_text

Log = Callable[[str], None]

ZENODO_RECORD = "https://zenodo.org/records/10519652"


# PneumoniaMNIST holds 4,708 + 524 + 624 images (medmnist/info.py, n_samples).
IMAGES = 5_856
ARCHIVE_SLACK = 1 << 20  # npy and zip headers: a few hundred bytes; 1 MiB is generous


def max_archive_bytes(size: int, images: int = IMAGES) -> int:
    """The largest the archive can be: its uint8 images and labels stored uncompressed (an npz
    is a zip; deflate never grows them by more than a few bytes per 16 KiB block), labels as
    8-byte integers at most, plus ARCHIVE_SLACK for headers."""
    return images * (size * size + 8) + ARCHIVE_SLACK


@dataclass(frozen=True)
class Archive:
    name: str
    md5: str
    max_bytes: int | None = None  # None: max_archive_bytes of the table's image size

    @property
    def url(self) -> str:
        return f"{ZENODO_RECORD}/files/{self.name}?download=1"


# The one table of what we download: image size → archive name, published MD5, size cap.
PNEUMONIAMNIST: dict[int, Archive] = {
    size: Archive(f"pneumoniamnist_{size}.npz", md5, max_archive_bytes(size))
    for size, md5 in (
        (64, "8f4eceb4ccffa70c672198ea285246c6"),
        (128, "05b46931834c231683c68f40c47b2971"),
        (224, "d6a3c71de1b945ea11211b03746c1fe1"),
    )
}
SPLITS = ("train", "val", "test")
CLASSES = ("NORMAL", "PNEUMONIA")  # label 0, label 1
WORK_DIR = ".download"  # hidden: `cxrgan train --data DEST` does not see it
CHUNK = 1 << 16
CITATION = (
    "PneumoniaMNIST (MedMNIST+, CC BY 4.0): Yang J. et al., MedMNIST v2, Scientific Data 10:41 "
    "(2023); source images: Kermany D. et al., Cell 172(5):1122-1131 (2018)"
)


def download_pneumoniamnist(
    size: int,
    dest: Path,
    url: str | None = None,
    progress: bool = True,
    log: Log = print,
    timeout: float = 60.0,
    overwrite: bool = False,
    keep_archive: bool = False,
) -> dict[str, dict[str, int]]:
    """Download, verify and unpack PneumoniaMNIST at `size`; returns counts per split/class.

    url: another location of the same archive (a mirror; tests serve one locally). The
    checksum is always the published one.
    """
    if size not in PNEUMONIAMNIST:
        sizes = ", ".join(str(s) for s in PNEUMONIAMNIST)
        raise CxrganError(f"--size must be one of {sizes}, got {size}")
    archive = PNEUMONIAMNIST[size]
    dest = Path(dest).expanduser()
    _check_dest(dest, overwrite)
    target = dest / WORK_DIR / archive.name
    target.parent.mkdir(parents=True, exist_ok=True)
    cap = archive.max_bytes or max_archive_bytes(size)
    if target.exists() and md5_of(target) == archive.md5:
        log(f"using the already downloaded {target}")
    else:
        fetch(url or archive.url, target, archive.md5, timeout=timeout, progress=progress, log=log,
              max_bytes=cap)  # fmt: skip
    counts = unpack(target, dest, size, progress=progress)
    _write_source(dest, archive, url or archive.url, counts)
    if not keep_archive:
        target.unlink()
    total = sum(sum(c.values()) for c in counts.values())
    log(f"wrote {total:,} PNGs to {dest}: " + "; ".join(
        f"{split} " + ", ".join(f"{k} {v:,}" for k, v in c.items()) for split, c in counts.items()
    ))  # fmt: skip
    log(f"train with: cxrgan train --data {dest / 'train'}")
    log(f"cite: {CITATION}")
    return counts


# --- downloading -------------------------------------------------------------------------


class TooLarge(CxrganError):
    """The server sends (or announces) more than the archive can be; nothing is kept."""


def fetch(
    url: str, target: Path, md5: str, timeout: float = 60.0, progress: bool = True,
    log: Log = print, max_bytes: int | None = None,
) -> Path:  # fmt: skip
    """Download `url` to `target` via `target.part`, resuming it; verify the MD5 before the
    file gets its final name. A mismatch deletes the .part and raises CxrganError.

    max_bytes: the most the file can be. A server announcing more (Content-Length), or more
    than the disk has free, is refused before the transfer; one that sends more is cut off at
    max_bytes; either way the .part is deleted."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise CxrganError(f"--url must be an http:// or https:// address, got {url!r}")
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if max_bytes is not None and offset > max_bytes:
        log(f"{part.name} is larger than {target.name} can be ({offset:,} > {max_bytes:,} "
            "bytes): starting over")  # fmt: skip
        part.unlink()
        offset = 0
    if offset:
        log(f"resuming {part.name} from byte {offset:,}")
    try:
        _transfer(url, part, offset, timeout, progress, max_bytes)
    except TooLarge:
        part.unlink(missing_ok=True)
        raise
    except HTTPError as exc:
        if not (exc.code == 416 and offset):  # 416 with a .part: it is probably complete
            raise CxrganError(f"download failed: HTTP {exc.code} {exc.reason} from {url}") from None
    except (URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CxrganError(
            f"download failed ({reason}) from {url}; run the command again to resume"
        ) from None
    got = md5_of(part)
    if got != md5:
        part.unlink()
        raise CxrganError(
            f"checksum mismatch for {target.name}: expected MD5 {md5}, got {got}. The download "
            "is corrupt (or the server sent another file); it was deleted and nothing was "
            "unpacked. Run the command again, or pass --url with a mirror."
        )
    os.replace(part, target)
    return target


def _transfer(
    url: str, part: Path, offset: int, timeout: float, progress: bool, max_bytes: int | None
) -> None:
    headers = {"User-Agent": f"cxrgan/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    name = part.name.removesuffix(".part")
    with urlopen(Request(url, headers=headers), timeout=timeout) as resp:
        if offset and (resp.status != 206 or _range_start(resp) != offset):
            offset = 0  # the server sent the whole file, not the rest: start over
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        if total is not None and max_bytes is not None and total > max_bytes:
            raise TooLarge(
                f"{url} announces {total:,} bytes, but {name} is at most {max_bytes:,}: this "
                "is not the archive (check --url); nothing was downloaded"
            )
        if total is not None:
            _check_free_space(part.parent, total - offset)
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=name, disable=not progress)  # fmt: skip
        with bar, part.open("r+b" if offset else "wb") as fh:
            fh.seek(offset)
            fh.truncate()
            size = offset
            while chunk := resp.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(
                        f"{url} sent more than {max_bytes:,} bytes, the most {name} can be: "
                        "stopped there and deleted the download (check --url)"
                    )
                fh.write(chunk)
                bar.update(len(chunk))


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise CxrganError(
            f"not enough free space in {folder}: the download needs {needed:,} bytes, "
            f"{free:,} are free; free some space or choose another --dest"
        )


def _range_start(resp: http.client.HTTPResponse) -> int | None:
    match = re.match(r"bytes\s+(\d+)-", resp.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def md5_of(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)  # integrity against a published sum, not security
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# --- unpacking ---------------------------------------------------------------------------


def _check_dest(dest: Path, overwrite: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise CxrganError(f"--dest must be a folder, got a file: {dest}")
    taken = [s for s in SPLITS if (dest / s).exists() and any((dest / s).iterdir())]
    if taken and not overwrite:
        raise CxrganError(
            f"{dest} already holds {', '.join(taken)}/; choose another --dest or pass --overwrite"
        )


def unpack(npz: Path, dest: Path, size: int, progress: bool = True) -> dict[str, dict[str, int]]:
    """Write every image of the archive as DEST/<split>/<CLASS>/<index>.png (atomically per
    split: built beside it, then renamed in)."""
    try:
        with np.load(npz, allow_pickle=False) as data:  # never unpickle downloaded data
            arrays = {s: _split_arrays(data, s, size) for s in SPLITS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CxrganError(f"{npz.name} is not a valid PneumoniaMNIST archive ({exc})") from None
    staging = dest / WORK_DIR / f"unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    counts: dict[str, dict[str, int]] = {}
    total = sum(len(images) for images, _ in arrays.values())
    with tqdm(total=total, desc="writing PNGs", unit="img", disable=not progress) as bar:
        for split, (images, labels) in arrays.items():
            counts[split] = _write_split(staging / split, images, labels, bar)
    for split in SPLITS:
        shutil.rmtree(dest / split, ignore_errors=True)  # --overwrite was checked before
        os.replace(staging / split, dest / split)
    shutil.rmtree(staging, ignore_errors=True)
    return counts


def _split_arrays(data: Mapping[str, np.ndarray], split: str, size: int) -> tuple[np.ndarray, ...]:
    images, labels = data[f"{split}_images"], data[f"{split}_labels"].reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (size, size):
        raise ValueError(f"{split}_images is {images.dtype} {images.shape}, expected uint8 "
                         f"(N, {size}, {size})")  # fmt: skip
    if len(labels) != len(images) or not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{split}_labels must hold one 0 or 1 per image")
    return images, labels


def _write_split(folder: Path, images: np.ndarray, labels: np.ndarray, bar: tqdm) -> dict[str, int]:
    for name in CLASSES:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for index, (img, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(img, "L").save(folder / CLASSES[int(label)] / f"{index:05d}.png")
        bar.update(1)
    return {name: int((labels == i).sum()) for i, name in enumerate(CLASSES)}


def _write_source(dest: Path, archive: Archive, url: str, counts: dict) -> None:
    info = {
        "dataset": "PneumoniaMNIST (MedMNIST+)", "file": archive.name, "md5": archive.md5,
        "url": url, "record": ZENODO_RECORD, "license": "CC BY 4.0", "citation": CITATION,
        "labels": {"0": CLASSES[0], "1": CLASSES[1]}, "counts": counts,
    }  # fmt: skip
    (dest / ".source.json").write_text(json_text(info, indent=2) + "\n")
