"""`cxrgan` entry point: one subcommand per module in this package."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from cxrgan import __version__
from cxrgan.errors import CxrganError, printable
from cxrgan.files import is_write_error, write_error_message

# Each module defines add_parser(subparsers) and run(args) -> int.
COMMANDS = (
    "train", "generate", "evaluate", "diagnose", "sweep", "report", "data", "turing", "export",
    "utility", "privacy",
)  # fmt: skip


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes print one line naming the problem (no usage dump, no traceback)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="cxrgan",
        description="Train GANs that make synthetic chest X-rays, and judge them offline.",
    )
    parser.add_argument("--version", action="version", version=f"cxrgan {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, help="run `cxrgan COMMAND --help`"
    )
    for name in COMMANDS:
        importlib.import_module(f"cxrgan.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CxrganError as exc:  # one line, whatever names it quotes
        print(f"cxrgan {args.command}: error: {printable(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full, read-only or vanished disk under any command: one line
        if not is_write_error(exc):
            raise
        print(
            f"cxrgan {args.command}: error: {printable(write_error_message(exc))}", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print(f"cxrgan {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The `cxrgan` command (and `python -m cxrgan`): main's exit status, which a signal that
    arrives while the process winds down no longer changes (a scheduler repeating SIGTERM after
    the preemption was saved and recorded: the status stays 143)."""
    status = main()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(status)
