"""docs/options.md's reference is what the parsers say: it cannot go stale.

Regenerate it with `python -m cxrgan.cli.reference --write docs/options.md` after changing an
option or its help; the text above the page's marker line is written by hand and kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cxrgan.cli import reference
from cxrgan.cli.main import main

PAGE = Path(__file__).resolve().parents[2] / "docs" / "options.md"
REGENERATE = "run `python -m cxrgan.cli.reference --write docs/options.md`"


def _help(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    """`cxrgan COMMAND --help` as printed, one option per line (no wrapping)."""
    with pytest.MonkeyPatch.context() as env, pytest.raises(SystemExit) as stop:
        env.setenv("COLUMNS", "2000")
        main([*command, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def _flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)) - {"--help"}


def _listed(help_text: str) -> set[str]:
    """The flags --help lists as options (each line's left column), not those its prose names."""
    lines = re.findall(r"^  (-[^ ].*?)(?:  |$)", help_text, flags=re.MULTILINE)
    return {flag for line in lines for flag in _flags(line)}


def _section(page: str, command: str) -> str:
    """The generated part of the page for one command: from its heading to the next one."""
    generated = page.split(reference.MARKER, 1)[1]
    return generated.split(f"## `{command}`", 1)[1].split("\n## ", 1)[0]


def test_the_page_is_the_rendered_reference():
    page = PAGE.read_text("utf-8")
    assert page.count(reference.MARKER) == 1, f"docs/options.md lost its marker line: {REGENERATE}"
    assert page.split(reference.MARKER, 1)[1] == reference.render().split(reference.MARKER, 1)[1], (
        f"docs/options.md differs from the parsers' options: {REGENERATE}"
    )


def test_every_train_option_of_help_is_in_the_page_and_no_other(capsys):
    """Read the other way round: the flags `cxrgan train --help` prints, against the page's."""
    shown = _listed(_help(capsys, "train"))
    table_rows = [
        line for line in _section(PAGE.read_text("utf-8"), "cxrgan train").splitlines()
        if line.startswith("| `")
    ]  # fmt: skip
    documented = {flag for row in table_rows for flag in _flags(row.split(" | ")[0])}
    assert len(shown) > 50  # the settings' options, not just the handful declared by hand
    assert documented == shown


def test_every_command_has_its_section(capsys):
    page = PAGE.read_text("utf-8")
    for command in ("train", "generate", "evaluate", "diagnose", "sweep", "report", "export"):
        assert f"## `cxrgan {command}`" in page
    for action in ("prepare", "inspect", "split", "download"):
        assert f"## `cxrgan data {action}`" in page
    for flag in _listed(_help(capsys, "generate")):
        assert f"`{flag}" in _section(page, "cxrgan generate"), flag


def test_table_cells_keep_their_text(tmp_path):
    """Pipes and angle brackets in help texts must not break a table row or vanish as HTML."""
    page = reference.render()
    row = next(line for line in page.splitlines() if line.startswith("| `--fake DIR"))
    assert row.startswith(r"| `--fake DIR\|RUN` | ") and row.count(" | ") == 1
    assert "OUT/&lt;class&gt;/NNNNN.png" in _section(page, "cxrgan generate")
    page_file = tmp_path / "options.md"
    page_file.write_text("# hand-written\n\nkept\n\n" + reference.MARKER + "\nold\n", "utf-8")
    reference.write(page_file)
    assert page_file.read_text("utf-8") == "# hand-written\n\nkept\n\n" + page
