"""`cxrgan sweep`: train every combination of learning rates (or any options), then compare."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cxrgan.cli.train import OPTIONS
from cxrgan.config import load_toml
from cxrgan.errors import CxrganError

# Options of `cxrgan train` that the sweep declares itself (lists, or decided per member).
OWN = ("--out", "--g-lr", "--d-lr")


def train_flags() -> list[argparse.Action]:
    """`cxrgan train`'s on/off flags (--hflip, --no-cache, ...: not in its OPTIONS table),
    read from its own parser so that flags added there are passed through here too."""
    from cxrgan.cli import train
    from cxrgan.config import TrainConfig

    sub = argparse.ArgumentParser(add_help=False).add_subparsers()
    train.add_parser(sub)
    fields = set(TrainConfig.__dataclass_fields__) - {"progress"}  # members never draw bars
    return [a for a in sub.choices["train"]._actions
            if a.nargs == 0 and isinstance(a.const, bool) and a.dest in fields]  # fmt: skip


DESCRIPTION = """\
Train one DCGAN per combination of the listed values (the cartesian product), all with the
same data, seed(s) and budget, then rank them. Each member is an ordinary run folder,
SWEEP/runs/<member>/, trained by its own `python -m cxrgan train` process (so one crash does
not end the sweep) with its output in SWEEP/runs/<member>.log.

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
  # any train option: --sweep-param name=v1,v2 (repeatable)
  cxrgan sweep --data chest_xray/train --g-lr 1e-3 --sweep-param batch_size=64,128 \\
      --out sweeps/batch
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
    grid.add_argument("--g-lr", metavar="LIST",
                      help="generator learning rates, comma-separated, e.g. 2e-4,1e-3,2e-3 "
                      "(shorthand for --sweep-param g_lr=...)")  # fmt: skip
    grid.add_argument("--d-lr", metavar="LIST",
                      help="discriminator learning rates, comma-separated (shorthand for "
                      "--sweep-param d_lr=...); one value keeps D fixed")  # fmt: skip
    grid.add_argument("--seeds", metavar="LIST",
                      help="seeds, comma-separated: each combination is trained once per "
                      "seed, to tell a better setting from a lucky seed (default: --seed, "
                      "else 0)")  # fmt: skip
    grid.add_argument("--sweep-param", action="append", default=[], metavar="NAME=V1,V2",
                      help="sweep any `cxrgan train` option (e.g. batch_size=64,128, "
                      "model=dcgan, beta1=0.5,0.9, hflip=true,false); values are parsed as that "
                      "option's; repeatable")  # fmt: skip
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
    passed = p.add_argument_group(
        "options passed to every member (see `cxrgan train --help`; any of them can be swept "
        "with --sweep-param)"
    )
    for option, kind, text in OPTIONS:
        if option not in OWN:
            passed.add_argument(option, type=kind, default=None, help=text)
    for a in train_flags():
        action = "store_true" if a.const else "store_false"
        passed.add_argument(*a.option_strings, dest=a.dest, action=action, default=None,
                            help=f"{a.help} (in every member)")  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from cxrgan.training import sweep as sw

    sweep_dir = _sweep_dir(args)
    if args.jobs < 1:
        raise CxrganError(f"--jobs must be at least 1, got {args.jobs}")
    if args.compare_only:
        result = sw.compare_only(sweep_dir)
        return 0 if result.completed else 1
    result = sw.run_sweep(sweep_dir, _spec(args), jobs=args.jobs)
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


def _spec(args: argparse.Namespace) -> Any:
    """The sweep the command line describes, or None when it only names a sweep folder."""
    from cxrgan.training import sweep as sw

    grid = _grid(args)
    base = _base(args, grid)
    if not grid and not base and args.steps is None:
        return None  # `cxrgan sweep SWEEP`: continue what is stored there
    return sw.build_spec(grid, base, args.steps)


def _grid(args: argparse.Namespace) -> dict[str, list[Any]]:
    from cxrgan.training import sweep as sw

    pairs = [sw.parse_sweep_param(text) for text in args.sweep_param]
    for name, text in (("g_lr", args.g_lr), ("d_lr", args.d_lr), ("seed", args.seeds)):
        if text is not None:
            pairs.append((name, sw.parse_values(name, text)))
    grid: dict[str, list[Any]] = {}
    for name, values in pairs:
        if name in grid:
            raise CxrganError(f"{sw.flag(name)} is swept twice; list its values once")
        grid[name] = values
    if "seed" in grid and args.seed is not None:
        raise CxrganError("give --seed or --seeds, not both")
    return grid


def _base(args: argparse.Namespace, grid: dict[str, list[Any]]) -> dict[str, Any]:
    """Options for every member: --config FILE.toml, then the command line (lists win)."""
    names = [o[2:].replace("-", "_") for o, _, _ in OPTIONS if o not in OWN]
    names += [a.dest for a in train_flags()]
    given = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    from_file = load_toml(args.config) if args.config else {}
    skip = {"out", "progress", *grid}
    return {**{k: v for k, v in from_file.items() if k not in skip}, **given}
