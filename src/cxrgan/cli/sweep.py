"""`cxrgan sweep`: train every combination of learning rates (or any options), then compare.

Its train options are generated from the settings declared in cxrgan.config, like those of
`cxrgan train`, but each takes a comma-separated list: one value is passed to every member,
several values make an axis of the grid.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cxrgan.cli.train import help_text
from cxrgan.config import load_toml
from cxrgan.errors import CxrganError
from cxrgan.settings import GROUPS, Setting
from cxrgan.sweep.grid import (
    ALWAYS_AXES,
    AXES,
    NOT_SWEEPABLE,
    parse_sweep_param,
    parse_values,
    separator,
)
from cxrgan.sweep.spec import SweepSpec, build_spec

DESCRIPTION = """\
Train one DCGAN per combination of the listed values (the cartesian product), all with the
same data, seed(s) and budget, then rank them. Each member is an ordinary run folder,
SWEEP/runs/<member>/, trained by its own `python -m cxrgan train --config
SWEEP/runs/<member>.toml` process (so one crash does not end the sweep) with its output in
SWEEP/runs/<member>.log.

Every `cxrgan train` option is accepted here and takes one value, passed to every member, or
comma-separated values, one member per value (--g-lr and --d-lr are swept even with one
value, so that member names show both rates).

Re-running the same command resumes the sweep: finished members are skipped, interrupted ones
continue from checkpoints/last (`cxrgan train --resume`), and a member that died before its
first checkpoint starts again. A different grid into the same SWEEP is refused.

At the end (and with --compare-only) the sweep writes SWEEP/sweep.json (spec, one summary per
member, ranking), SWEEP/grids.png (final samples side by side), SWEEP/losses.png (Loss_G and
Loss_D of every member) and SWEEP/report.html, and prints the ranking: by best FWD when the
members were trained with FWD evaluation, else by a loss heuristic (see docs/sweep.md)."""

EPILOG = """\
examples:
  # the tutorial's rates, then G x5 and x10, on the Kaggle chest X-rays
  cxrgan sweep --data chest_xray/train --g-lr 2e-4,1e-3,2e-3 --d-lr 2e-4 --epochs 5 \\
      --out sweeps/g-lr
  # two seeds each, 2,000 optimiser steps, two members at a time
  cxrgan sweep --data chest_xray/train --g-lr 2e-4,1e-3 --seeds 1,2 --steps 2000 --jobs 2 \\
      --out sweeps/seeds
  # any train option: a list sweeps it (or --sweep-param name=v1,v2)
  cxrgan sweep --data chest_xray/train --g-lr 1e-3 --batch-size 64,128 --out sweeps/batch
  # continue after Ctrl-C or a crash (the stored spec is reused), or just redo the comparison
  cxrgan sweep sweeps/g-lr
  cxrgan sweep sweeps/g-lr --compare-only
  # carry on with the best member, with new settings
  cxrgan train --resume sweeps/g-lr/runs/g_lr=1e-3,d_lr=2e-4 --epochs 30"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="train every combination of learning rates (or any options) and compare them",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # --steps must never be read as --steps-per-epoch
    )
    p.add_argument("sweep_dir", nargs="?", type=Path, metavar="SWEEP",
                   help="the sweep folder (same as --out); alone, it continues the sweep stored "
                   "there")  # fmt: skip
    p.add_argument("--out", type=Path, metavar="SWEEP",
                   help="sweep folder: sweep.json, grids.png, losses.png, report.html and "
                   "runs/<member>/ (created; re-running with the same grid resumes "
                   "it)")  # fmt: skip
    grid = p.add_argument_group("the grid (every combination is trained)")
    grid.add_argument("--seeds", metavar="LIST",
                      help="seeds, comma-separated: each combination is trained once per "
                      "seed, to tell a better setting from a lucky seed (default: --seed, "
                      "else 0)")  # fmt: skip
    grid.add_argument("--sweep-param", action="append", default=[], metavar="NAME=V1,V2",
                      help="sweep any `cxrgan train` option (e.g. batch_size=64,128, "
                      "model=dcgan, beta1=0.5,0.9, hflip=true,false), even with one value; "
                      "values are parsed as that option's; repeatable")  # fmt: skip
    running = p.add_argument_group("running")
    running.add_argument("--steps", type=int, metavar="N",
                     help="budget in optimiser steps per member, instead of --epochs: split into "
                     "5-10 epochs (or kept --steps-per-epoch) so each member leaves that many "
                     "sample grids and checkpoints; the split is printed")  # fmt: skip
    running.add_argument("--jobs", type=int, default=1, metavar="J",
                     help="members trained at once (default 1); each gets cores // J threads "
                     "($OMP_NUM_THREADS, when set, counts as the cores)")  # fmt: skip
    running.add_argument("--compare-only", action="store_true",
                     help="train nothing: rebuild sweep.json, the table, grids.png, losses.png "
                     "and report.html from what SWEEP holds")  # fmt: skip
    running.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="TOML file of train options for every member (the command line wins)",
    )
    running.add_argument("--no-progress", dest="progress", action="store_false",
                     help="members never draw progress bars (their output goes to their .log); "
                     "accepted for symmetry with train")  # fmt: skip
    add_axis_options(p)
    p.set_defaults(run=run)


def add_axis_options(p: argparse.ArgumentParser) -> None:
    """Every sweepable setting as `--<flag> V[,V...]`, grouped like `cxrgan train --help`."""
    for group, title in GROUPS.items():
        members = [s for s in AXES.values() if s.group == group]
        if not members:
            continue
        g = p.add_argument_group(title)
        for s in members:
            text = help_text(s) + ("; swept even with one value" if s.name in ALWAYS_AXES else "")
            if s.kind is bool:  # --hflip alone means true, as in train; or --hflip true,false
                g.add_argument(s.flag, dest=s.name, nargs="?", const="true", metavar="true,false",
                               help=text)  # fmt: skip
                g.add_argument("--no-" + s.flag[2:], dest=s.name, action="store_const",
                               const="false", help=f"the same as {s.flag} false")  # fmt: skip
            else:
                g.add_argument(s.flag, dest=s.name, metavar=f"V[{separator(s)}V...]",
                               help=text + _list_note(s))  # fmt: skip


def _list_note(s: Setting) -> str:
    """For a setting whose one value is a comma list: how members' values are told apart."""
    sep = separator(s)
    if sep == ",":
        return ""
    return f"; a comma list is one value, given to every member; '{sep}' separates members' lists"


def run(args: argparse.Namespace) -> int:
    # deferred: the sweep session imports reporting and matplotlib, which no other command's
    # parser needs
    from cxrgan.sweep.session import compare_only, run_sweep

    sweep_dir = _sweep_dir(args)
    if args.jobs < 1:
        raise CxrganError(f"--jobs must be at least 1, got {args.jobs}")
    if args.compare_only:
        result = compare_only(sweep_dir)
        return 0 if result.completed else 1
    result = run_sweep(sweep_dir, spec_from_args(args), jobs=args.jobs)
    if not result.completed:
        return 130
    return 0 if all(m["status"] == "done" for m in result.summary["members"]) else 1


def _sweep_dir(args: argparse.Namespace) -> Path:
    if args.sweep_dir and args.out and args.sweep_dir.resolve() != args.out.resolve():
        raise CxrganError(f"two sweep folders given: {args.sweep_dir} and --out {args.out}")
    where = args.out or args.sweep_dir
    if where is None:
        raise CxrganError("say where the sweep lives: --out SWEEP (or SWEEP alone to continue one)")
    return where


def spec_from_args(args: argparse.Namespace) -> SweepSpec | None:
    """The sweep the command line describes, or None when it only names a sweep folder."""
    grid, given = _grid_and_given(args)
    base = _base(args, grid, given)
    if not grid and not base and args.steps is None:
        return None  # `cxrgan sweep SWEEP`: continue what is stored there
    return build_spec(grid, base, args.steps)


def _grid_and_given(args: argparse.Namespace) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """(axes, settings given once) from the command line: a list of two or more values, the
    learning rates, --seeds and --sweep-param make axes."""
    pairs = [parse_sweep_param(text) for text in args.sweep_param]
    given: dict[str, Any] = {}
    for name in AXES:
        text = getattr(args, name)
        if text is None:
            continue
        values = parse_values(name, text)
        if len(values) > 1 or name in ALWAYS_AXES:
            pairs.append((name, values))
        else:
            given[name] = values[0]
    if args.seeds is not None:
        if "seed" in given or any(name == "seed" for name, _ in pairs):
            raise CxrganError("give --seed or --seeds, not both")
        pairs.append(("seed", parse_values("seed", args.seeds)))
    grid: dict[str, list[Any]] = {}
    for name, values in pairs:
        if name in grid or name in given:
            raise CxrganError(f"{AXES[name].flag} is swept twice; list its values once")
        grid[name] = values
    return grid, given


def _base(args: argparse.Namespace, grid: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Settings for every member: --config FILE.toml, then the command line (lists win)."""
    from_file = load_toml(args.config) if args.config else {}
    skip = {*NOT_SWEEPABLE, *grid}
    return {**{k: v for k, v in from_file.items() if k not in skip}, **given}
