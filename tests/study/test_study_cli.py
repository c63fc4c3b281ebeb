"""The study commands' one-line errors, and their --help without torch, numpy or Pillow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cxrgan.cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "{tmp}", "--out", "{tmp}/b"], "is not a run directory (no config.json)"),
        (["turing", "score", "{tmp}", "{tmp}/a.json"], "is not a study: no key.json"),
        (["turing", "make", "--real", "{tmp}/none", "--fake", "{tmp}", "--out", "{tmp}/s"],
         "--real {tmp}/none is not a directory"),
    ],
)  # fmt: skip
def test_one_line_errors(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message.format(tmp=tmp_path) in err


@pytest.mark.parametrize("argv", [["turing", "make"], ["turing", "score"], ["export"]])
def test_help_loads_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys\nfrom cxrgan.cli.main import main\n"
        f"try:\n    main({[*argv, '--help']!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'numpy', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]")
