"""`python -m cxrgan.cli.torchrun --run RUN ARGS`: torchrun (torch.distributed.run) as `cxrgan
train --nproc N` starts it, with its failure report cut to one line. Each rank prints its own
error, or its `interrupted … saved checkpoints/last`; torchrun's ChildFailedError or
SignalException traceback after it (up to forty lines) buried that line.

Process tree: `train --nproc` → this torchrun → the ranks. Each dies with its parent
(cxrgan.lifeline): when the launcher dies, even by kill -9, torchrun gets SIGTERM and stops the
ranks, which save checkpoints/last; when torchrun dies, the ranks get SIGTERM themselves.
A rank killed by a signal (kill -9, the out-of-memory killer) cannot say so: this records it in
RUN's config.json (`stopped`) and exits 128 + the signal's number, as the shell would."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import main as torchrun

from cxrgan.lifeline import die_with_parent, tie_children
from cxrgan.training.rundir import EXIT_KILLED
from cxrgan.training.session import record_failure


def main(argv: list[str]) -> int:
    die_with_parent()  # SIGTERM: torchrun passes it to the ranks, which save first
    tie_children()  # the ranks die with torchrun
    run = None
    if argv[:1] == ["--run"]:
        run, argv = Path(argv[1]), argv[2:]
    try:
        torchrun(argv)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = failure.exitcode
        if code < 0:
            return _killed(rank, -code, run)
        print(f"cxrgan train: rank {rank} exited with status {code} (its own message is above)",
              file=sys.stderr)  # fmt: skip
        return code if code > 0 else 1
    except SignalException as exc:
        print(f"cxrgan train: torchrun stopped the ranks on {exc.sigval.name}", file=sys.stderr)
        return 128 + int(exc.sigval)
    return 0


def _killed(rank: int, signum: int, run: Path | None) -> int:
    """A rank that a signal ended printed nothing; say what happened and record it."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    what = f"rank {rank} was killed by {name}"
    if name == "SIGKILL":
        what += ", which leaves no message (kill -9, or the out-of-memory killer: see dmesg)"
    stopped = None
    if run is not None and name.startswith("SIG"):
        stopped = record_failure(run, f"rank {rank} was killed by {name}", signal=name, rank=rank)
    after = "; torchrun stopped the other ranks"
    if stopped is not None:
        after += (f". config.json records it; cxrgan train --resume {run} continues from "
                  f"checkpoints/last (step {stopped['step']})")  # fmt: skip
    print(f"cxrgan train: {what}{after}", file=sys.stderr)
    return EXIT_KILLED + signum


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
