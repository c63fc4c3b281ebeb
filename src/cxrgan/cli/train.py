"""`cxrgan train`: train a GAN on a folder of chest X-rays (or the built-in phantoms).

Its options are generated from the settings declared in cxrgan.config: one per setting, in
help groups, with the allowed values and the default in the help.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxrgan.config import SETTINGS, TrainConfig, load_toml
from cxrgan.errors import CxrganError
from cxrgan.lifeline import die_with_parent, tied_env
from cxrgan.settings import GROUPS, Setting

# The numbers are cxrgan.training.rundir's EXIT_* (tests/training/test_faults.py checks), which
# --help does not import: that module loads tqdm.
EXIT_HELP = (
    "Exit status: 0 completed, budget reached or stopped early; 2 an error (one line on "
    "stderr); 3 diverged (NaN/inf; checkpoints/last keeps the last finite state); 130 "
    "interrupted by Ctrl-C, 143 interrupted by SIGTERM (both after saving checkpoints/last: "
    "--resume continues); 128+N a process killed by signal N (137: kill -9 or the "
    "out-of-memory killer; --resume continues from checkpoints/last). A run directory is "
    "trained by one process at a time (RUN/.lock). See docs/reliability.md."
)

# Metavars by type; text settings keep argparse's own (--data DATA, --out OUT).
METAVARS = {int: "N", float: "X"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a GAN on a folder of chest X-rays (or built-in phantoms)",
        description="Train a DCGAN on chest X-rays. Writes a run directory with config.json, "
        "metrics.jsonl, sample grids, loss plots and resumable checkpoints. "
        "Settings come from the defaults, then --config FILE.toml, then the command line.",
        epilog=EXIT_HELP,
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="TOML file with any of the options below (keys like g_lr or g-lr)",
    )
    p.add_argument("--resume", type=Path, metavar="RUN", help=resume_help())
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="NAME",
        help="with --resume: the checkpoint of RUN to continue from: last (default), best or "
        "epoch_NNNN; metrics after its step are dropped and trained again",
    )
    p.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train with N processes on this machine (one per GPU, or CPU processes with "
        "gloo): runs torchrun for you; --batch-size stays the global batch. Several machines: "
        "run torchrun yourself (docs/distributed.md)",
    )
    add_setting_options(p)
    p.set_defaults(run=run)


def resume_help() -> str:
    flags = ", ".join(s.flag for s in SETTINGS if s.resumable)
    return (
        "continue RUN in place from checkpoints/last: same fixed noise, counters and metrics "
        f"continue; these options may change: {flags} (the others are fixed by the checkpoint)"
    )


def add_setting_options(p: argparse.ArgumentParser) -> None:
    """One option per setting, grouped as GROUPS; an option not given is None."""
    for group, title in GROUPS.items():
        members = [s for s in SETTINGS if s.group == group]
        if not members:
            continue
        g = p.add_argument_group(title)
        for s in members:
            text = help_text(s)
            if s.kind is bool:  # --hflip / --no-hflip, --cache / --no-cache, ...
                g.add_argument(s.flag, dest=s.name, action=argparse.BooleanOptionalAction,
                               default=None, help=text)  # fmt: skip
                continue
            choices = s.choices()
            metavar = "{" + ",".join(map(str, choices)) + "}" if choices else METAVARS.get(s.kind)
            if s.many:
                metavar = "NAME[,NAME...]"
            g.add_argument(s.flag, dest=s.name, type=value_type(s), default=None,
                           metavar=metavar, help=text)  # fmt: skip


def help_text(s: Setting) -> str:
    return s.help_text().replace("%", "%%")  # argparse %-formats help


def value_type(s: Setting) -> Callable[[str], Any]:
    """argparse's `type=` for one value of a setting: its own parser, errors as argparse's."""

    def parse(text: str) -> Any:
        try:
            return s.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = s.kind.__name__
    return parse


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """Settings given on the command line (None means 'not given')."""
    values = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    return {k: v for k, v in values.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    die_with_parent()  # a sweep's member, or a rank of `--nproc`: SIGTERM when the parent dies
    settings = {**(load_toml(args.config) if args.config else {}), **given_options(args)}
    if args.nproc is not None and args.nproc < 1:
        raise CxrganError(f"--nproc {args.nproc}: expected 1 or more processes")
    world = os.environ.get("WORLD_SIZE")
    if world is not None and "RANK" in os.environ:  # a worker that torchrun started
        if args.nproc is not None and args.nproc != int(world):
            raise CxrganError(
                f"--nproc {args.nproc} under torchrun, which started {world} process(es): "
                "leave --nproc out (torchrun's --nproc_per_node decides)"
            )
    elif args.nproc is not None and args.nproc > 1:
        return launch(args, settings)
    try:
        return _run(args, settings)
    finally:
        from cxrgan.training import distributed

        distributed.shutdown()


def _run(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    # deferred: training imports torch, which `cxrgan --help` does not need
    from cxrgan.config import RESUMABLE
    from cxrgan.training.rundir import exit_status
    from cxrgan.training.session import resume_run, start_run

    restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT") or 0) > 0
    out = settings.get("out")
    if args.resume is None and restarted and out and (Path(out) / "config.json").exists():
        # torchrun --max-restarts restarted the workers: continue the run from checkpoints/last
        # (the settings given are the run's own; only the resumable ones are passed on).
        args.resume = Path(out)
        settings = {k: v for k, v in settings.items() if k in RESUMABLE}
    if args.resume is not None:
        run = resume_run(args.resume, settings, args.checkpoint or "last")
    elif args.checkpoint is not None:
        raise CxrganError("--checkpoint picks what --resume RUN continues from; it needs --resume")
    else:
        run = start_run(TrainConfig.from_dict(settings))
    return exit_status(run.stopped)


def launch(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    """`cxrgan train --nproc N`: this same command under torchrun on this machine (python -m
    torch.distributed.run --standalone, through cli/torchrun.py, which cuts torchrun's failure
    report to one line), with --out fixed so every restart finds the run.
    Ctrl-C and SIGTERM are passed to torchrun once; torchrun and the ranks die with this process
    (cxrgan.lifeline). The exit status is the run's (config.json's stop), as one process would
    give; 128 + N when a rank was killed by signal N."""
    import signal
    import subprocess

    from cxrgan.sweep.runner import thread_budget
    from cxrgan.training.rundir import EXIT_KILLED, default_run_path, exit_status, now_iso

    argv = sys.argv[1:]
    if "train" not in argv:
        raise CxrganError("--nproc reruns the command line: run it as `cxrgan train --nproc N ...`")
    child = _without_nproc(argv)
    root = args.resume
    if root is None:
        root = Path(settings.get("out") or default_run_path())
        if not settings.get("out"):
            child += ["--out", str(root)]
    cmd = [sys.executable, "-m", "cxrgan.cli.torchrun", "--run", str(root), "--standalone",
           f"--nproc_per_node={args.nproc}", "-m", "cxrgan", *child]  # fmt: skip
    started = now_iso()
    # torchrun would set 1 thread per process, with a banner saying so; share the cores as a
    # sweep's members do instead (a value you set is each process's, as under torchrun)
    threads = os.environ.get("OMP_NUM_THREADS") or str(thread_budget(args.nproc))
    env = tied_env({**os.environ, "OMP_NUM_THREADS": threads})  # torchrun dies with this process
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)  # signals reach it once, here
    previous = {
        sig: signal.signal(sig, lambda signum, frame: proc.send_signal(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code < 0:  # torchrun was killed: its ranks got SIGTERM, and rank 0 records the stop
        _wait_for_ranks(root, -code)
    stopped = _stopped(root)
    if stopped is not None and stopped.get("time", "") >= started:
        return exit_status(stopped)
    if code < 0:
        return EXIT_KILLED - code  # the shell's status for torchrun killed by that signal
    return code if code > 0 else 2


def _wait_for_ranks(root: Path, signum: int) -> None:
    """While rank 0 still holds the run's lock: it saves checkpoints/last, then records why it
    stopped, and the exit status is read from that."""
    # deferred: rundir loads tqdm, which `cxrgan --help` does not need
    from cxrgan.training.rundir import lock_holder

    if lock_holder(root) is None:
        return
    print(f"cxrgan train: torchrun was killed by signal {signum}; waiting for the ranks to save "
          "checkpoints/last (they got SIGTERM)", file=sys.stderr)  # fmt: skip
    while lock_holder(root) is not None:
        time.sleep(0.2)


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def _stopped(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "config.json").read_text()).get("stopped")
    except (OSError, ValueError):
        return None
