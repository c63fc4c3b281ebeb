"""`cxrgan sweep`: train every combination of settings, resumably, and rank the results.

A sweep folder holds `sweep.json` (the spec and the comparison) and `runs/<member>/`, one
ordinary run directory per combination, each written by a `python -m cxrgan train --config
runs/<member>.toml` subprocess (so a crash in one member never takes the sweep down) with its
output in `runs/<member>.log`.

Re-running the same command is safe: finished members are skipped, interrupted ones resume from
`checkpoints/last`, and a member that died before its first checkpoint starts again. Members
die with the sweep (cxrgan.lifeline), even after kill -9: they get SIGTERM and save first, and a
re-run waits for one that is still saving. See docs/sweep.md for the walkthrough and the
ranking rule.

This module runs a whole sweep; the package's other modules are small: grid (axes, values,
names), spec (grid × base × budget), folder (sweep.json, lock), resume (what to do with each
member), runner (member processes), rank (summaries and ranking).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError
from cxrgan.reporting import sweep_compare
from cxrgan.reporting.html_report import write_report
from cxrgan.sweep.folder import open_sweep, read_sweep, sweep_lock, write_sweep
from cxrgan.sweep.rank import Outcome, summarise
from cxrgan.sweep.resume import Plan, decide
from cxrgan.sweep.runner import POLL_S, Runner
from cxrgan.sweep.spec import SWEEP_FILE, Member, SweepSpec
from cxrgan.training.rundir import lock_holder


@dataclass
class SweepResult:
    sweep: Path
    summary: dict[str, Any]  # the contents of sweep.json
    completed: bool  # False when interrupted before every member ran


def run_sweep(
    sweep: Path,
    spec: SweepSpec | None,
    jobs: int = 1,
    echo: Callable[[str], None] = print,
) -> SweepResult:
    """Train what is missing (skip, resume or (re)start each member), then compare."""
    open_sweep(sweep, spec)  # refuse a wrong folder or grid before creating anything
    with sweep_lock(sweep):
        spec = open_sweep(sweep, spec)
        members = spec.members()
        wait_for_members(sweep, members, echo)
        plans = [(m, decide(m.run_dir(sweep))) for m in members]
        previous = read_sweep(sweep)
        write_sweep(sweep, summarise(sweep, spec, {}, previous))  # the spec is on disk first
        runner = Runner(sweep, spec, jobs, echo)
        runner.on_finish = lambda: write_sweep(
            sweep, summarise(sweep, spec, runner.outcomes, previous)
        )
        echo(_plan_line(sweep, spec, plans, runner))
        for member, plan in plans:
            if plan.action == "skip":
                echo(f"{runner.tag(member)} skip     {member.name}  ({plan.reason})")
        started = time.monotonic()
        completed = runner.run([(m, p) for m, p in plans if p.action != "skip"])
        summary = finish(sweep, spec, runner.outcomes, previous, echo)
        echo(f"sweep {'finished' if completed else 'interrupted'} after "
             f"{time.monotonic() - started:.1f}s" +
             ("" if completed else "; re-run the same command to resume"))  # fmt: skip
        return SweepResult(sweep, summary, completed)


def wait_for_members(sweep: Path, members: list[Member], echo: Callable[[str], None]) -> None:
    """Wait while another process trains a member: most often one that an earlier run of this
    sweep started, saving checkpoints/last after that run died (its members get SIGTERM then).
    What to do with the member is decided once it has ended."""
    for member in members:
        run_dir = member.run_dir(sweep)
        holder = lock_holder(run_dir)
        if holder is None:
            continue
        echo(f"waiting for {member.name}: it is still being trained by another process "
             f"({holder}); this sweep goes on when it ends (Ctrl-C stops waiting)")  # fmt: skip
        while lock_holder(run_dir) is not None:
            time.sleep(POLL_S)


def compare_only(sweep: Path, echo: Callable[[str], None] = print) -> SweepResult:
    """Rebuild sweep.json, the table, grids.png, losses.png and report.html without training."""
    stored = read_sweep(sweep)
    if stored is None:
        raise CxrganError(f"{sweep} holds no sweep ({SWEEP_FILE} missing)")
    spec = SweepSpec.from_dict(stored["spec"])
    summary = finish(sweep, spec, {}, stored, echo)
    return SweepResult(sweep, summary, all(m["status"] == "done" for m in summary["members"]))


def finish(
    sweep: Path,
    spec: SweepSpec,
    outcomes: dict[str, Outcome],
    previous: dict[str, Any] | None,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    summary = summarise(sweep, spec, outcomes, previous)
    write_sweep(sweep, summary)
    sweep_compare.plot_grids(sweep, summary["members"], sweep / "grids.png")
    sweep_compare.plot_losses(sweep, summary["members"], sweep / "losses.png")
    echo(sweep_compare.format_table(summary, sweep))
    note = write_html_report(sweep)
    if note:
        echo(note)
    return summary


def write_html_report(sweep: Path) -> str | None:
    """SWEEP/report.html; a note instead of an error when the report fails."""
    try:
        write_report(sweep)
    except Exception as exc:  # the comparison is written already; a report bug must not hide it
        return f"warning: report.html failed: {type(exc).__name__}: {exc}"
    return None


def _plan_line(
    sweep: Path, spec: SweepSpec, plans: list[tuple[Member, Plan]], runner: Runner
) -> str:
    counts: dict[str, int] = {}
    for _, p in plans:
        counts[p.action] = counts.get(p.action, 0) + 1
    what = ", ".join(f"{n} to {a}" if a != "skip" else f"{n} finished" for a, n in counts.items())
    return (f"sweep {sweep}: {len(plans)} member(s), {spec.describe()}\n"
            f"  {what}; {runner.jobs} at a time, {runner.threads} thread(s) each")  # fmt: skip
