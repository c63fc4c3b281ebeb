"""`cxrgan diagnose RUN`: name the state of training from a run's curves, and what to change."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from cxrgan.cli.arguments import whole_number
from cxrgan.files import json_text
from cxrgan.reporting.thresholds import DEFAULT_THRESHOLDS, DEFAULT_WINDOW

EPILOG = """states (the first that applies wins; the others are listed as "also applies"):
  too_early       fewer than {min_records} training records yet, unless the run diverged or D
                  has won outright (judged by steps, whatever --log-every is: D(x) >=
                  {r.outright_d_x:g} and D(G(z)) <= {r.outright_d_g_z:g} for {outright_steps}
                  steps, or >= {r.crush_d_x:g} / <= {r.crush_d_g_z:g} for {crush_steps}; bce)
  diverged        NaN/inf in the losses, or a loss saturated (>= {explode_loss:g}) or exploding
  mode_collapse   the latest fixed-noise samples are near-copies of each other
  d_overfits      --augment ada's p pinned >= {ada_p_high:g} (or climbing to its cap): D memorises
                  the training set; more images, a slower or smaller D
  d_overpowers_g  loss_D ~ 0, D(x) -> 1, D(G(z)) -> 0, loss_G high or rising: raise --g-lr
  d_too_weak      D cannot tell real from fake, loss_D > loss_G and climbing: lower --g-lr
  oscillating     losses swing widely for many records: lower both rates
  healthy         none of the above; with --eval-every, FWD says train longer or stop, and
                  a plateau at >= {fwd_floor_ratio:g}x the real-vs-real FWD floor is "stalled far
                  from the data", not converged

Each loss is read on its own scale (the run's config.json says which): bce and ns
(the same maths) put a coin-tossing D at loss_D = 2 ln 2 = 1.39, hinge at loss_D = 2,
loss_G = 0. D(x) and D(G(z)) are always D's outputs as probabilities, sigma(logit).
Every threshold is in cxrgan.reporting.thresholds.Thresholds, with the reason for its value.
The exit status is 0 whatever the state; use --json to act on it from a script."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    t = DEFAULT_THRESHOLDS
    p = sub.add_parser(
        "diagnose",
        help="read a run's loss curves: what state training is in and what to change",
        description=textwrap.fill(
            "Read RUN/metrics.jsonl (and the latest sample grid) the way an experienced GAN "
            "trainer reads the curves, on the scale of the run's loss (bce, ns or hinge) and "
            "with ADA's augmentation probability when it has one: name the state of training, "
            "show the numbers behind it and say which flag to change, by how much.",
            width=78,
        ),
        epilog=EPILOG.format(
            min_records=t.min_records,
            explode_loss=t.explode_loss,
            ada_p_high=t.ada_p_high,
            outright_steps=t.outright_steps,
            crush_steps=t.crush_steps,
            fwd_floor_ratio=t.fwd_floor_ratio,
            r=t.for_loss("bce"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN",
        help="run directory written by `cxrgan train` (holds config.json and metrics.jsonl)",
    )
    p.add_argument(
        "--window",
        type=whole_number(1),
        default=DEFAULT_WINDOW,
        metavar="N",
        help=f"judge the latest N training records of metrics.jsonl (default {DEFAULT_WINDOW}; "
        f"values below {t.min_records} count as {t.min_records}). Larger N looks further back "
        "and reacts more slowly to a change of learning rate",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (state, title, loss, evidence, advice, secondary, reasons, "
        "hint) "
        "instead of text",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: the rules need numpy; `cxrgan diagnose --help` needs only the thresholds
    from cxrgan.reporting.diagnose import diagnose_run

    diagnosis = diagnose_run(args.run_dir, window=args.window)
    if args.json:
        print(json_text(diagnosis.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(diagnosis.to_text())
    return 0
