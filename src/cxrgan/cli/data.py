"""`cxrgan data prepare | inspect | download`: get a folder of chest X-rays ready for training."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from cxrgan.cli.arguments import add_cache_dir, add_no_progress, add_workers
from cxrgan.cli.train import help_text, value_type
from cxrgan.config import BY_NAME, IMAGE_SIZES
from cxrgan.data.fit import FIT_POLICIES
from cxrgan.errors import CxrganError, printable
from cxrgan.files import json_text
from cxrgan.input_settings import LABEL_SETTINGS, label_request

if TYPE_CHECKING:
    from cxrgan.data.labels.options import LabelRequest

LIST_SKIPPED = 20


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value not in IMAGE_SIZES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(map(str, IMAGE_SIZES))}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _common(p: argparse.ArgumentParser, size_required: bool) -> None:
    p.add_argument(
        "folder",
        type=Path,
        metavar="DIR",
        help="folder of chest X-rays (JPEG, PNG, TIFF, DICOM), searched recursively; "
        "subfolders such as NORMAL/ and PNEUMONIA/ are the classes",
    )
    default = None if size_required else 64
    p.add_argument(
        "--image-size",
        type=_size,
        required=size_required,
        default=default,
        metavar="S",
        help=f"training resolution in pixels, one of {IMAGE_SIZES}"
        + ("" if size_required else " (default 64)"),
    )
    p.add_argument(
        "--fit",
        choices=FIT_POLICIES,
        default="crop",
        help="how non-square images become square: crop (centre square, the tutorial's "
        "Resize + CenterCrop; default), pad (whole image, padded with its border "
        "level) or squash (whole image, aspect ratio not kept)",
    )
    add_workers(p)
    add_no_progress(p)
    add_label_options(p)


def add_label_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--labels and its rule, as `cxrgan train` declares them (cxrgan/input_settings.py); the
    group, for a command's own options about label files."""
    g = p.add_argument_group("label file (docs/labels.md)")
    for name in LABEL_SETTINGS:
        s = BY_NAME[name]
        choices = s.choices()
        metavar = "{" + ",".join(choices) + "}" if choices else "TEXT"
        g.add_argument(s.flag, dest=s.name, type=value_type(s), default=s.default,
                       metavar=metavar, help=help_text(s))  # fmt: skip
    return g


def label_request_of(args: argparse.Namespace, minimum: int | None = None) -> LabelRequest | None:
    """The label file the command's options ask for (None without --labels); `minimum`: the
    images a class needs, when not the training minimum."""
    if args.classes is not None and not args.labels:
        raise CxrganError("--classes needs --labels")
    request = label_request(args)
    if request is not None and minimum is not None:
        request = dataclasses.replace(request, minimum=minimum)
    return request


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="prepare, inspect, split or download chest X-ray folders",
        description="Tools for the training data: build the decode-once cache ahead of "
        "training (prepare), look at a folder before training on it (inspect), split it by "
        "patient into train/ and heldout/ (split), or fetch a public data set (download).",
    )
    actions = p.add_subparsers(
        dest="data_command", metavar="ACTION", required=True, help="what to do with the folder"
    )
    _add_prepare(actions)
    _add_inspect(actions)
    _add_split(actions)
    _add_download(actions)
    p.set_defaults(run=run)


def _add_prepare(actions: argparse._SubParsersAction) -> None:
    prep = actions.add_parser(
        "prepare",
        help="decode a folder once into the cache that `cxrgan train` reuses",
        description="Decode every image under DIR at --image-size with --fit and store the "
        "result in the decode-once cache, so that `cxrgan train --data DIR` with the same "
        "size and fit starts without decoding. A cache entry stays valid until a file under "
        "DIR is added, removed or changed (size or modification time).",
    )
    _common(prep, size_required=True)
    add_cache_dir(prep)


def _add_inspect(actions: argparse._SubParsersAction) -> None:
    insp = actions.add_parser(
        "inspect",
        help="report what a folder holds: classes, formats, sizes, unreadable files, duplicates",
        description="Decode every file under DIR once (nothing is cached or changed) and "
        "report counts per class and per format, image sizes and aspect ratios, DICOM bit "
        "depth and photometric interpretation, unreadable files with the reason, files with "
        "identical bytes, and (with --sheet) a contact sheet of random images after "
        "preprocessing. Files are written only where --sheet and --json say. No patient data "
        "from DICOM headers is ever shown.",
    )
    _common(insp, size_required=False)
    insp.add_argument(
        "--sheet",
        type=Path,
        default=None,
        metavar="PNG",
        help="also write a contact sheet of up to 64 random images as they will be trained "
        "on, to PNG (default: none; nothing is written where you stand)",
    )
    insp.add_argument(
        "--no-sheet",
        dest="sheet",
        action="store_const",
        const=None,
        help="do not write a contact sheet (the default; cancels an earlier --sheet)",
    )
    insp.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the full report (every unreadable file and duplicate "
        "group) as JSON to FILE",
    )
    insp.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for choosing the contact sheet's images (default 0)",
    )


def _add_split(actions: argparse._SubParsersAction) -> None:
    split = actions.add_parser(
        "split",
        help="split a folder by patient into train/ and heldout/ (no patient on both sides)",
        description="Split the files under DIR by patient into OUT/train/<class>/ and "
        "OUT/heldout/<class>/, as symbolic links to the originals (or copies), so that "
        "quality and utility are judged on patients the generator and the classifier never "
        "saw. Patients come from the Kermany/Kaggle file names: personNNN_… (PNEUMONIA), "
        "IM-NNNN-… and NORMAL2-IM-NNNN-… (NORMAL); a file without an id is its own patient. "
        "About --heldout of each class's patients are held out whole; OUT/split.json lists "
        "the counts and the patient ids of each side. With --labels, the label file gives "
        "classes and patients, the official split where it has one (else --heldout of the "
        "patients), and OUT/train.csv and OUT/heldout.csv list each side for `cxrgan train "
        "--data DIR --labels OUT/train.csv` (docs/labels.md).",
    )
    split.add_argument("folder", type=Path, metavar="DIR", help="folder of images to split")
    split.add_argument(
        "--out", type=Path, required=True, metavar="OUT", help="where train/ and heldout/ go"
    )
    split.add_argument(
        "--heldout",
        type=float,
        default=0.15,
        metavar="SHARE",
        help="share of each class's patients held out (default 0.15)",
    )
    split.add_argument(
        "--seed", type=int, default=0, help="which patients are held out (default 0)"
    )
    split.add_argument(
        "--copy",
        action="store_true",
        help="copy the files instead of linking them (for file systems without symlinks)",
    )
    add_label_options(split)


def _add_download(actions: argparse._SubParsersAction) -> None:
    down = actions.add_parser(
        "download",
        help="download a public chest X-ray data set (needs internet)",
        description="Download PneumoniaMNIST (MedMNIST+, CC BY 4.0: 5,856 pediatric chest "
        "X-rays labelled normal/pneumonia) from its Zenodo record, verify its MD5 checksum, "
        "and unpack it as DEST/{train,val,test}/{NORMAL,PNEUMONIA}/NNNNN.png. An interrupted "
        "download resumes where it stopped when run again. The transfer stops at the largest "
        "size the archive can have (a wrong --url cannot fill the disk), and is refused when "
        "the server announces more than that or than the disk has free.",
    )
    down.add_argument("dataset", choices=("pneumoniamnist",), help="the data set to fetch")
    down.add_argument(
        "--size",
        type=int,
        choices=(64, 128, 224),
        required=True,
        help="image size of the archive to fetch: 64, 128 or 224 pixels",
    )
    down.add_argument(
        "--dest",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder to unpack into (created if needed); train on DIR/train",
    )
    down.add_argument(
        "--url",
        metavar="URL",
        help="fetch the same archive from another http(s) address instead, e.g. "
        "a mirror (also used by the tests); the published checksum still applies",
    )
    down.add_argument(
        "--timeout",
        type=_positive,
        default=60.0,
        metavar="SECONDS",
        help="give up when the server sends nothing for this long (default 60)",
    )
    down.add_argument(
        "--overwrite",
        action="store_true",
        help="replace train/, val/ and test/ if DEST already has them",
    )
    down.add_argument(
        "--keep-archive",
        action="store_true",
        help="keep the verified .npz in DEST/.download after unpacking",
    )
    add_no_progress(down)


def run(args: argparse.Namespace) -> int:
    actions = {"prepare": run_prepare, "inspect": run_inspect, "split": run_split,
               "download": run_download}  # fmt: skip
    return actions[args.data_command](args)


def run_prepare(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from pydicom (folder) and numpy (cache)
    from cxrgan.data.cache import resolve_cache_dir
    from cxrgan.data.folder import load_folder

    data = load_folder(
        args.folder,
        args.image_size,
        args.fit,
        _workers(args),
        args.progress,
        cache_dir=resolve_cache_dir(args.cache_dir),
        log=print,
        labels=label_request_of(args),
    )
    counts = ", ".join(
        f"{printable(k) or '(no class)'} {v:,}" for k, v in data.class_counts.items()
    )
    print(f"prepared {len(data):,} images ({counts}) at {args.image_size} px, --fit {args.fit}")
    if data.skipped:
        print(f"skipped {len(data.skipped):,} file(s):")
        for path, reason in data.skipped[:LIST_SKIPPED]:
            print(f"  {printable(path)}: {printable(reason)}")
        if len(data.skipped) > LIST_SKIPPED:
            more = len(data.skipped) - LIST_SKIPPED
            print(f"  ... and {more:,} more (see `cxrgan data inspect`)")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing pydicom
    from cxrgan.data.inspect import format_report, inspect_folder

    summary = inspect_folder(
        args.folder,
        args.image_size,
        args.fit,
        _workers(args),
        args.progress,
        sheet=args.sheet,
        seed=args.seed,
        labels=label_request_of(args),
    )
    print(format_report(summary))
    if args.json is not None:
        try:
            args.json.write_text(json_text(summary, indent=2) + "\n")
        except OSError as exc:
            raise CxrganError(f"cannot write {args.json} ({exc.strerror or exc})") from None
        print(f"json          {args.json}")
    return 0


def run_split(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from pydicom and numpy
    from cxrgan.data.split import write_split

    summary = write_split(args.folder, args.out, args.heldout, args.seed, args.copy,
                          labels=label_request_of(args))  # fmt: skip
    for side in ("train", "heldout"):
        part = summary[side]
        counts = ", ".join(f"{k or '(no class)'} {v:,}" for k, v in part["classes"].items())
        print(f"{side:8} {part['images']:6,} images of {part['patients']:,} patients ({counts})")
    csvs = f", {args.out}/train.csv, {args.out}/heldout.csv" if args.labels else ""
    print(f"wrote {args.out}/train, {args.out}/heldout{csvs} and {args.out}/split.json")
    return 0


def run_download(args: argparse.Namespace) -> int:
    # deferred: the network stack (urllib, http, ssl) is for `data download` only, not --help
    from cxrgan.data.download import download_pneumoniamnist

    download_pneumoniamnist(
        args.size,
        args.dest,
        url=args.url,
        progress=args.progress,
        timeout=args.timeout,
        overwrite=args.overwrite,
        keep_archive=args.keep_archive,
    )
    return 0


def _workers(args: argparse.Namespace) -> int:
    if args.workers < 0:
        raise CxrganError("--workers must be 0 (auto) or positive")
    return args.workers
