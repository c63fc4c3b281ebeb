"""Start-up time of `cxrgan --help` and of every `cxrgan COMMAND --help`, against `python -c pass`.

Each row is a fresh interpreter (`python -m cxrgan ...`, what the `cxrgan` script runs), timed
--repeat times; the table shows the median wall time, its ratio to an empty interpreter, how
many modules were loaded, and which heavy ones among them. Target: every row under 0.5 s, and
no torch, matplotlib or pydicom anywhere (tests/test_startup.py asserts the modules).

    python benchmarks/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "matplotlib", "pydicom", "numpy", "PIL", "tqdm", "pywt", "safetensors")


def commands() -> list[list[str]]:
    from cxrgan.cli.main import COMMANDS

    return [[], *([c] for c in COMMANDS)]


def loaded_modules(argv: list[str]) -> set[str]:
    """Every module `python argv...` imports, from one extra run under -X importtime."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    } - {"package"}


def timed(argv: list[str], repeat: int) -> float:
    """Median wall seconds of `python argv...` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repeat", type=int, default=5, help="runs per row (median; default 5)")
    args = p.parse_args()
    rows = [
        ("python -c pass", ["-c", "pass"]),
        ("python -c 'import numpy'", ["-c", "import numpy"]),
    ]
    rows += [
        (" ".join(["cxrgan", *c, "--help"]), ["-m", "cxrgan", *c, "--help"]) for c in commands()
    ]
    base = 0.0
    print(f"{'command':28s} {'seconds':>8s} {'ratio':>6s} {'modules':>8s}  heavy modules loaded")
    print("-" * 80)
    for label, argv in rows:
        seconds = timed(argv, args.repeat)
        base = base or seconds
        modules = loaded_modules(argv)
        heavy = [h for h in HEAVY if h in modules]
        print(f"{label:28s} {seconds:8.3f} {seconds / base:6.1f} {len(modules):8d}  "
              f"{', '.join(heavy) or '-'}")  # fmt: skip


if __name__ == "__main__":
    main()
