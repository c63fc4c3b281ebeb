"""`cxrgan privacy`: can an attacker tell whether a patient's film was in the training set?"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from cxrgan.cli.arguments import add_reading_and_device, whole_number
from cxrgan.cli.data import add_label_options, label_request_of
from cxrgan.errors import CxrganError
from cxrgan.privacy import defaults as d
from cxrgan.reporting.run_records import is_run_dir

if TYPE_CHECKING:
    from cxrgan.data.labels.options import LabelRequest


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "privacy",
        help="membership-inference audit: can an attacker tell training films from others?",
        description="Attack the generator as the literature does and report how well each "
        "attack tells the films it trained on (--train, members) from films of other patients "
        "(--heldout, non-members): white-box, D's logit (LOGAN, Hayes et al. 2019; only where "
        "the checkpoint still holds D); black-box, each film's distance to its nearest "
        "generated image in the memorisation check's thumbnails and in pixels (GAN-Leaks, "
        "Chen et al. 2020); and, with --reference, each calibrated by a generator trained on "
        "other patients. Each attack: ROC AUC with a 95 % bootstrap interval and the true-"
        "positive rate at 1 % false positives, over all films and per class of a conditional "
        "run, and a verdict in plain words. Writes privacy.json and plots/privacy_roc.png in "
        "RUN (a run's report then shows them). With --labels, a label file gives the films' "
        "classes and patients instead of class subfolders and file names (docs/labels.md). "
        "See docs/privacy.md.",
    )
    p.add_argument(
        "path",
        type=Path,
        metavar="RUN",
        help="the generator to audit: a run directory (G and D) or an export bundle (G only)",
    )
    _add_films(p)
    _add_attacks(p)
    _add_output_and_device(p)
    add_label_options(p).add_argument(
        "--heldout-labels",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --labels, the label file of --heldout (e.g. SPLIT/heldout.csv from `cxrgan "
        "data split --labels`, with --train and --heldout both the folder its paths are read "
        "under), read with the same format and rule (default: --labels itself, read under "
        "--heldout); no patient it names may be in --train: refused otherwise",
    )
    p.set_defaults(run=run)


def _add_films(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--train",
        type=Path,
        required=True,
        metavar="DIR",
        help="the films the run trained on (the members), in class subfolders for a "
        "conditional run; with --labels, the folder the label file's paths are read under",
    )
    p.add_argument(
        "--heldout",
        type=Path,
        required=True,
        metavar="DIR",
        help="films of other patients, never trained on (the non-members); no patient id of "
        "their file names (personNNN_…, IM-NNNN-…; with --labels, of the label file) may "
        "appear in --train: refused otherwise",
    )


def _add_attacks(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reference",
        type=Path,
        default=None,
        metavar="RUN",
        help="a generator of the same size and classes trained on other patients (a run or a "
        "bundle): adds the calibrated attacks, each score minus the reference's",
    )
    p.add_argument(
        "--n-generated",
        type=whole_number(1),
        default=d.N_GENERATED,
        metavar="N",
        help=f"generated images each film is compared with, per class of a conditional run "
        f"(default {d.N_GENERATED}; more makes the black-box attacks stronger and slower)",
    )
    p.add_argument(
        "--bootstrap",
        type=whole_number(d.MIN_BOOTSTRAP),
        default=d.BOOTSTRAP,
        metavar="B",
        help=f"resamples of members and of non-members for the 95 %% intervals (default "
        f"{d.BOOTSTRAP}, at least {d.MIN_BOOTSTRAP})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.SEED,
        metavar="S",
        help=f"seed of the generated images, D's batches and the bootstrap (default {d.SEED})",
    )
    p.add_argument(
        "--checkpoint",
        default=d.CHECKPOINT,
        help="the runs' checkpoint to audit: last (default), best, epoch_0005, …",
    )


def _add_output_and_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"where the results go (default RUN/{d.PRIVACY_JSON}); the plot always goes to "
        f"RUN/{d.ROC_PNG}",
    )
    add_reading_and_device(p, "the generator draws and D scores")


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing torch, numpy and matplotlib
    from cxrgan.data.cache import resolve_cache_dir
    from cxrgan.privacy.audit import PrivacyOptions, attack_lines, run_audit, write_outputs
    from cxrgan.reporting.html_report import write_report
    from cxrgan.training.device import resolve_device

    options = PrivacyOptions(
        run=args.path,
        train=args.train,
        heldout=args.heldout,
        reference=args.reference,
        n_generated=args.n_generated,
        bootstrap=args.bootstrap,
        seed=args.seed,
        checkpoint=args.checkpoint,
        device=str(resolve_device(args.device)),
        workers=args.workers,
        cache_dir=None if args.no_cache else resolve_cache_dir(args.cache_dir),
        progress=args.progress,
        **_label_requests(args),
    )
    audit = run_audit(options, log=print)
    json_path = args.json or Path(args.path) / d.PRIVACY_JSON
    png_path = Path(args.path) / d.ROC_PNG
    write_outputs(audit, json_path, png_path)
    print("\n".join(attack_lines(audit.result)))
    print(f"wrote {json_path} and {png_path}")
    if is_run_dir(args.path) and json_path == Path(args.path) / d.PRIVACY_JSON:
        print(f"report: {write_report(args.path)}")
    return 0


def _label_requests(args: argparse.Namespace) -> dict[str, LabelRequest | None]:
    """--train's label file and --heldout's: --heldout-labels, else the same file (read under
    --heldout). The audit's own minimum (docs/privacy.md) applies, not training's."""
    train = label_request_of(args, minimum=1)
    if train is None:
        if args.heldout_labels is not None:
            raise CxrganError("--heldout-labels needs --labels (their format and rule are shared)")
        return {"labels": None, "heldout_labels": None}
    file = args.heldout_labels.expanduser() if args.heldout_labels else train.file
    return {"labels": train, "heldout_labels": dataclasses.replace(train, file=file)}
