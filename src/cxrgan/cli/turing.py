"""`cxrgan turing make|score`: a visual Turing test of a generator with human readers."""

from __future__ import annotations

import argparse
from pathlib import Path

from cxrgan.cli.arguments import add_device
from cxrgan.errors import CxrganError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "turing",
        help="a reading study: can readers tell real from generated X-rays?",
        description="A visual Turing test. `make` writes STUDY/study.html, one self-contained "
        "page (no network, no server) that shows a seeded, balanced mix of real and generated "
        "images one at a time; readers answer R/F with a confidence 1-5 and export a JSON file. "
        "The answer key stays in STUDY/key.json. `score` reads the answers files. See "
        "docs/turing.md.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    m = actions.add_parser(
        "make",
        help="write the reading page and the answer key",
        description="Write STUDY/study.html (send this to readers), STUDY/key.json and "
        "STUDY/images/ (keep these). Half the images are real, half generated (the extra one is "
        "real for an odd --n); with a conditional run, or a --fake folder with class folders, "
        "both halves are balanced by class too. Real images are fitted to the generated "
        "images' size as training fitted them, so size and format give nothing away.",
    )
    m.add_argument(
        "--real",
        type=Path,
        required=True,
        metavar="DIR",
        help="real images (class folders such as NORMAL/ and PNEUMONIA/), ideally "
        "held out from training",
    )
    m.add_argument(
        "--fake",
        type=Path,
        required=True,
        metavar="RUN|DIR",
        help="a run directory (its G_ema draws the images) or a folder of images",
    )
    m.add_argument("--n", type=int, default=100, help="images in the study (default 100)")
    m.add_argument("--out", type=Path, required=True, metavar="STUDY", help="a new folder")
    m.add_argument("--seed", type=int, default=0, help="seed of the draw and order (default 0)")
    m.add_argument("--checkpoint", default="last", help="RUN's checkpoint (default last)")
    m.add_argument(
        "--image-size",
        type=int,
        default=None,
        metavar="S",
        help="size for a --fake folder (default: its first image's width)",
    )
    m.add_argument(
        "--fit", default=None, help="how real images become square (default: the run's, else crop)"
    )
    add_device(m, "the generator draws")
    m.set_defaults(run=run_make)
    s = actions.add_parser(
        "score",
        help="score readers' answers against the key",
        description="Per reader: accuracy, sensitivity and specificity for spotting generated "
        "images, an exact two-sided binomial test against chance, ROC AUC from the confidence "
        "ratings; Cohen's kappa per pair of readers and Fleiss' kappa for all; grids of the "
        "generated images caught most often and the real ones most often called fake. Writes "
        "STUDY/score.json and STUDY/score.html; when the study drew from a run (or lives in "
        "one), RUN/turing.json points the run's report at it.",
    )
    s.add_argument("study", type=Path, metavar="STUDY", help="the folder `turing make` wrote")
    s.add_argument(
        "answers",
        type=Path,
        nargs="+",
        metavar="ANSWERS.json",
        help="answers files exported from the study page, one per reader",
    )
    s.set_defaults(run=run_score)


def run_make(args: argparse.Namespace) -> int:
    # deferred: Pillow, numpy (and torch for a run) load only when a study is made
    from cxrgan.study.make import PAGE, make_study

    for what, path in (("--real", args.real), ("--fake", args.fake)):
        if not path.is_dir():
            raise CxrganError(f"{what} {path} is not a directory")
    key = make_study(
        args.real,
        args.fake,
        args.n,
        args.out,
        seed=args.seed,
        checkpoint=args.checkpoint,
        image_size=args.image_size,
        fit=args.fit,
        device=args.device,
    )
    fakes = sum(i["truth"] == "fake" for i in key["images"])
    print(
        f"{key['n']} images ({key['n'] - fakes} real, {fakes} generated) at "
        f"{key['image_size']} px" + (", balanced by class" if key["conditional"] else "")
    )
    print(f"send to readers: {args.out / PAGE}")
    print(f"keep (the answer key): {args.out / 'key.json'}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    # deferred: Pillow loads only when answers are scored
    from cxrgan.study.score import SCORE_HTML, SCORE_JSON, score_study

    s = score_study(args.study, list(args.answers))
    for r in s["readers"]:
        acc = "–" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        auc = "–" if r["auc"] is None else f"{r['auc']:.3f}"
        print(
            f"{r['reader']}: {r['answered']} answers, accuracy {acc} (p={r['p_value']:.3g}), "
            f"AUC {auc}"
        )
    fk = s["agreement"]["fleiss_kappa"]
    if fk is not None:
        print(f"Fleiss' kappa {fk:.3f} over {s['agreement']['fleiss_images']} images")
    print(f"wrote {args.study / SCORE_JSON} and {args.study / SCORE_HTML}")
    return 0
