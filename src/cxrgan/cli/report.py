"""`cxrgan report RUN|SWEEP`: write the self-contained HTML report and print its path."""

from __future__ import annotations

import argparse
from pathlib import Path

from cxrgan.errors import CxrganError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write the self-contained HTML report of a run or a sweep",
        description="Write RUN/report.html (for a run directory, which has config.json) or "
        "SWEEP/report.html (for a sweep directory, which has sweep.json) and print its path. "
        "The page needs no network: images are embedded, charts are inline SVG, so it can be "
        "mailed or archived as one file. `cxrgan train` refreshes a run's report every epoch; "
        "this command rebuilds it, e.g. after `cxrgan evaluate` added memorisation.png.",
    )
    p.add_argument(
        "path",
        type=Path,
        metavar="RUN|SWEEP",
        help="a run directory written by `cxrgan train`, or a sweep directory written by "
        "`cxrgan sweep` (compares its members side by side)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: the report's pages import numpy and Pillow, which `cxrgan --help` does not need
    from cxrgan.reporting.html_report import write_report

    if not args.path.is_dir():
        raise CxrganError(f"{args.path} is not a directory")
    print(write_report(args.path))
    return 0
