"""The documentation site builds with `mkdocs build --strict`: a link to a missing page or a
missing #anchor, or a page left out of the nav, fails the suite. The README, which the site
does not build, has its links checked here too, and its two set-up commands against the
Makefile and CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from markdown.extensions.toc import slugify

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` into `site` (never into the checkout); warnings on stderr.
    Never with --quiet: it hides warnings from the strict count, and a broken link passes."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2.0
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_the_site_builds_strict_without_a_warning(tmp_path):
    done = _build(REPO / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    assert (tmp_path / "site" / "options" / "index.html").is_file()
    assert not (REPO / "site").exists() or "site/" in (REPO / ".gitignore").read_text()


def test_every_page_is_in_the_nav():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text("utf-8"))

    def pages(nav: list) -> list[str]:
        out = []
        for entry in nav:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            out += pages(value) if isinstance(value, list) else [value]
        return out

    assert sorted(pages(config["nav"])) == sorted(p.name for p in (REPO / "docs").glob("*.md"))
    index = (REPO / "docs" / "index.md").read_text("utf-8")
    linked = {target.split("#")[0] for target in LINK.findall(index)}
    assert linked == {p.name for p in (REPO / "docs").glob("*.md")} - {"index.md"}


def test_a_broken_link_or_anchor_fails_the_build(tmp_path):
    """The repository's own validation settings, on a two-page site with one of each fault."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text("utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[ok](other.md#a-section)\n", "utf-8")
    (docs / "other.md").write_text("# Other\n\n## A section\n", "utf-8")
    config.update(docs_dir=str(docs), nav=["index.md", "other.md"])
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), "utf-8")
    assert _build(tmp_path / "mkdocs.yml", tmp_path / "site").returncode == 0

    (docs / "index.md").write_text("# Home\n\n[gone](missing.md)\n", "utf-8")
    failed = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert failed.returncode != 0 and "missing.md" in failed.stderr

    (docs / "index.md").write_text("# Home\n\n[moved](other.md#no-such-section)\n", "utf-8")
    failed = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert failed.returncode != 0 and "no-such-section" in failed.stderr


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text("utf-8"), flags=re.MULTILINE)
    return {slugify(h, "-") for h in headings}


def test_the_readme_links_resolve():
    readme = (REPO / "README.md").read_text("utf-8")
    targets = [t for t in LINK.findall(readme) if not re.match(r"[a-z]+:", t)]
    assert len(targets) > 10
    for target in targets:
        path, _, anchor = target.partition("#")
        file = REPO / path if path else REPO / "README.md"
        assert file.exists(), f"README.md links to {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(file), f"README.md links to {target}: no such heading"


def test_the_readme_two_commands_are_the_makefile_and_ci():
    readme = (REPO / "README.md").read_text("utf-8")
    makefile = (REPO / "Makefile").read_text("utf-8")
    assert "make demo " in readme and "make test " in readme
    assert re.search(r"^demo: install$", makefile, flags=re.MULTILINE)
    assert re.search(r"^test: install\n\t\$\(BIN\)/python -m pytest", makefile, flags=re.MULTILINE)
    assert (REPO / ".ci" / "run").read_text("utf-8").rstrip().endswith("make test")
    assert not re.search(r"\b\d[\d,]* tests\b|\b20\d\d-\d\d-\d\d\b", readme), (
        "no test counts or dates in the README: they change with every commit"
    )
