"""The images' own sizes, read from file headers, and what comparing them at one size did."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cxrgan.data.decode import collect_warnings, describe, is_image_candidate
from cxrgan.data.folder import class_labels, scan_files
from cxrgan.errors import UnreadableImage

Sizes = Counter[tuple[int, int]]  # (width, height) -> number of files


def native_sizes(folder: Path) -> Sizes:
    """(width, height) of every image file under `folder`, from its header (no decoding).

    In a folder with class subfolders, files beside them (such as the grid.png that
    `generate --grid` leaves there) are not counted: they are no image of any class."""
    entries = [e for e in scan_files(folder) if is_image_candidate(e.path)]
    labels = class_labels([e.rel for e in entries])
    classed = any(labels)
    sizes: Sizes = Counter()
    with collect_warnings():  # load_folder reports them, once, with the file they belong to
        for entry, label in zip(entries, labels, strict=True):
            if classed and not label:
                continue
            try:
                facts = describe(entry.path)
                sizes[(int(facts["width"]), int(facts["height"]))] += 1
            except (UnreadableImage, OSError, KeyError, ValueError):
                continue  # load_folder lists it among the skipped files
    return sizes


def one_square(sizes: Sizes) -> int | None:
    """The side when every image is the same square size, else None."""
    if len(sizes) == 1:
        ((w, h),) = sizes
        return w if w == h else None
    return None


def _described(sizes: Sizes) -> str:
    if len(sizes) == 1:
        ((w, h),) = sizes
        return f"{w}×{h} px"
    shorter = [min(wh) for wh in sizes]
    return f"of {len(sizes)} sizes (shorter side {min(shorter)}–{max(shorter)} px)"


def _done(sizes: Sizes, size: int) -> str:
    """What fitting images of these sizes to `size` px does to them."""
    sides = [min(wh) for wh in sizes]
    if all(side < size for side in sides):
        return "enlarged"
    if all(side > size for side in sides):
        return "reduced"
    if all(wh == (size, size) for wh in sizes):
        return "kept as they are"
    return "resized (some enlarged)" if any(side < size for side in sides) else "resized"


def size_messages(fake: Sizes, real: Sizes, size: int, fit: str) -> list[str]:
    """What happened to the images' sizes, in one line: 'warning: ...' when images were
    enlarged or the generated ones were not compared at their own size, 'note: ...' when the
    real images were only reduced to the generated images' size (as training reduces them)."""
    if not fake or not real:
        return []
    fake_side = one_square(fake)
    enlarged = any(min(wh) < size for wh in (*fake, *real))
    if fake_side == size and set(real) == {(size, size)}:
        return []
    what = (
        f"generated images are {_described(fake)}, real images {_described(real)}; "
        f"compared at {size} px (--fit {fit}): generated images {_done(fake, size)}, real "
        f"images {_done(real, size)}"
    )
    if fake_side == size and not enlarged:
        return [f"note: {what}, as training reduces them"]
    cost = " (enlarging blurs images, which worsens FWD, KID and precision)" if enlarged else ""
    fix = f"; pass --image-size {fake_side} to compare at their own size" if fake_side else ""
    if fake_side == size:
        fix = "; compare against real images at least as large as the generated ones"
    return [f"warning: {what}{cost}{fix}"]
