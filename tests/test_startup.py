"""`cxrgan --help` and `cxrgan COMMAND --help` start fast: no heavy module is imported.

Each command runs in a fresh interpreter under `python -X importtime`, which lists every module
it imports. Times are measured by benchmarks/startup.py (target: under 0.5 s each).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from cxrgan.cli.main import COMMANDS

# Seconds each (torch alone takes 2-20 s), or a stack --help never needs.
HEAVY = (
    "torch",
    "matplotlib",
    "pydicom",
    "pywt",
    "scipy",
    "safetensors",
    "tensorboard",
    "mlflow",
    "wandb",
    "tqdm",
    "urllib.request",
    "http.client",
    "ssl",
    "cxrgan.training",
    "cxrgan.metrics",
    "cxrgan.data.folder",
    "cxrgan.data.decode",
    "cxrgan.data.decode_dicom",
    "cxrgan.data.decode_pillow",
)
# Not yet: cxrgan.config imports cxrgan.data.preprocess (numpy, Pillow) for FIT_POLICIES, and
# cli/diagnose.py's defaults come from cxrgan.reporting.diagnose, which imports numpy.
NUMPY_HEAVY = ("numpy", "PIL")

HELP = [[], *([c] for c in COMMANDS)]


def imported(args: list[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cxrgan", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: cxrgan" in done.stdout
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.fixture(scope="module")
def modules_of_help() -> dict[str, set[str]]:
    return {" ".join(["cxrgan", *c, "--help"]): imported(c) for c in HELP}


def test_help_of_every_command_imports_nothing_heavy(modules_of_help: dict[str, set[str]]) -> None:
    assert len(modules_of_help) == len(COMMANDS) + 1
    problems = {cmd: _loaded(mods, HEAVY) for cmd, mods in modules_of_help.items()}
    problems = {cmd: heavy for cmd, heavy in problems.items() if heavy}
    assert not problems, f"--help imports heavy modules: {problems}"


def test_help_of_every_command_imports_no_numpy(modules_of_help: dict[str, set[str]]) -> None:
    problems = {cmd: _loaded(mods, NUMPY_HEAVY) for cmd, mods in modules_of_help.items()}
    problems = {cmd: heavy for cmd, heavy in problems.items() if heavy}
    assert not problems, f"--help imports numpy-based modules: {problems}"


def test_the_checker_sees_a_heavy_import() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import json.decoder"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert _loaded(names, ("json",)) == ["json"]
    assert _loaded({"torchvision"}, ("torch",)) == []  # a prefix is not a package
