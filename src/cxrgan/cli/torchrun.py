"""`python -m cxrgan.cli.torchrun ARGS`: torchrun (torch.distributed.run) as `cxrgan train --nproc
N` starts it, with its failure report cut to one line. Each rank prints its own error, or its
`interrupted … saved checkpoints/last`; torchrun's ChildFailedError or SignalException
traceback after it (up to forty lines) buried that line."""

from __future__ import annotations

import sys

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import main as torchrun


def main(argv: list[str]) -> int:
    try:
        torchrun(argv)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = failure.exitcode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        print(f"cxrgan train: rank {rank} {how} (its own message is above)", file=sys.stderr)
        return code if code > 0 else 1
    except SignalException as exc:
        print(f"cxrgan train: torchrun stopped the ranks on {exc.sigval.name}", file=sys.stderr)
        return 128 + int(exc.sigval)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
