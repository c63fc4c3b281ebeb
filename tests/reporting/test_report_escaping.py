"""Names a user chose (the run's and sweep's folders, class folders, recipe, sweep members and
their settings, a reading study's readers, utility set titles) reach the report pages as text:
escaped, never markup nor attributes."""

from __future__ import annotations

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from cxrgan.reporting.html_report import write_report

# Closes an attribute and opens a tag: unescaped, it would add an element or an onclick.
EVIL = """<x-evil a="1">'" onclick="alert(1)" &amp;"""


def _name(what: str) -> str:
    return f"{what} {EVIL}"


class _Tags(HTMLParser):
    """Every tag name and attribute name, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs |= {k for k, _ in attrs}
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _read(page: Path) -> tuple[str, _Tags]:
    source = page.read_text(encoding="utf-8")
    tags = _Tags()
    tags.feed(source)
    return source, tags


def _assert_shown_as_text(page: Path, names: list[str]) -> None:
    source, tags = _read(page)
    assert "x-evil" not in tags.tags and "onclick" not in tags.attrs
    assert "<x-evil" not in source
    text = " ".join(tags.text)
    for name in names:
        assert name in text, name  # shown, as written


def _hostile_run(make_run: Callable[..., Path]) -> Path:
    """A conditional run whose folder, classes, recipe and study carry EVIL in their names."""
    classes = [_name("NORMAL"), _name("PNEUMONIA")]
    per_class = {c: {"fwd": 0.05, "fwd_floor": 0.01, "n": 40} for c in classes}
    evals = [
        {"step": 80 * (i + 1), "epoch": i + 1, "fwd": 0.1, "fwd_worst_class": 0.06,
         "per_class": per_class}
        for i in range(3)
    ]  # fmt: skip
    run = make_run(
        _name("run"),
        synthetic=False,
        epochs=3,
        plots=False,
        settings={"conditional": True},
        recipe={"name": _name("recipe"), "version": 1, "overridden": {_name("key"): 1}},
        extra_lines=[json.dumps(r) for r in evals],
    )
    cfg = json.loads((run / "config.json").read_text())
    cfg["dataset"]["classes"] = {c: 10 for c in classes}
    cfg["history"][0]["event"] = _name("event")
    (run / "config.json").write_text(json.dumps(cfg))
    study = {"summary": str(run / "study" / "summary.html"), "readers": _name("readers")}
    (run / "turing.json").write_text(json.dumps(study))
    (run / "utility.json").write_text(json.dumps(_utility(_name("set"))))
    return run


def _utility(title: str) -> dict:
    stats = {"accuracy": 0.8, "balanced_accuracy": 0.8, "auc": 0.9}
    one = {
        "title": title,
        "n_images": 10,
        "mean": stats,
        "std": dict.fromkeys(stats),
        "ci95": {m: [0.7, 0.9] for m in stats},
    }
    return {
        "sets": {"real": one},
        "gains": {"auc": {"value": 0.01, "ci95": [-0.01, 0.02]}},
        "ratios": {"tstr_trtr_auc": {"value": 0.9}},
        "settings": {"seeds": [0]},
        "counts": {"n_test": 20},
    }


def test_run_page_escapes_every_name(make_run: Callable[..., Path]) -> None:
    run = _hostile_run(make_run)
    names = [_name(w) for w in ("run", "NORMAL", "PNEUMONIA", "recipe", "key", "event", "set")]
    names.append(_name("readers"))
    _assert_shown_as_text(write_report(run), names)
    _, tags = _read(run / "report.html")
    legend = " ".join(tags.text)
    assert f"FWD {_name('NORMAL')}" in legend  # the per-class curve's legend


def test_sweep_page_escapes_every_name(tmp_path: Path, make_run: Callable[..., Path]) -> None:
    root = tmp_path / _name("sweep")
    make_run(f"{root.name}/runs/m1", epochs=2, plots=False)
    member = {
        "name": _name("member"),
        "run_dir": "runs/m1",
        "params": {_name("param"): _name("value")},
        "status": _name("status"),
        "error": _name("error"),
    }
    sweep = {"members": [member], "ranked_by": _name("rule"), "best": _name("member")}
    (root / "sweep.json").write_text(json.dumps(sweep))
    names = [_name(w) for w in ("sweep", "member", "param", "value", "status", "rule")]
    _assert_shown_as_text(write_report(root), names)
    source, _ = _read(root / "report.html")
    assert 'title="error &lt;x-evil' in source  # the failure reason, in the status chip's title
