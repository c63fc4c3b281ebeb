"""ADA's p and the run's recipe, loss and augmentation in plots/losses.png and report.html."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from cxrgan.reporting import plots
from cxrgan.reporting.html_report import write_report

RECIPE = {"name": "small", "version": 2, "overridden": {"g_lr": 0.001}}
MODERN = {
    "recipe": "small",
    "loss": "hinge",
    "augment": "ada",
    "ema_kimg": 10.0,
    "r1_gamma": 0.0128,
    "d_spectral_norm": True,
}


def _figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Collect the figures plot_losses draws (and still write them)."""
    drawn: list[Any] = []
    save = plots.save_figure

    def keep(fig: Any, path: Path) -> None:
        drawn.append(fig)
        save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    return drawn


def test_losses_png_shows_ada_p(
    tmp_path: Path, synth: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = _figures(monkeypatch)
    records = synth.curves("ada_pinned", 40)
    plots.plot_losses(records, tmp_path / "ada.png")
    plots.plot_losses(synth.curves("healthy", 40), tmp_path / "plain.png")
    ada, plain = drawn
    assert [ax.get_ylabel() for ax in ada.axes] == ["Loss", "D output σ(logit)", "ADA p"]
    assert len(plain.axes) == 2  # no p: the tutorial's two panels, as before
    line = ada.axes[2].get_lines()[0]
    assert line.get_label() == "ADA p"
    np.testing.assert_allclose(line.get_ydata(), [r["augment_p"] for r in records])
    np.testing.assert_allclose(line.get_xdata(), [r["step"] for r in records])
    assert ada.axes[2].get_xlabel() == "iterations"
    with Image.open(tmp_path / "ada.png") as a, Image.open(tmp_path / "plain.png") as p:
        assert a.height > p.height and a.width == p.width


def _text(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).replace("&#x27;", "'").split())


def test_report_shows_p_recipe_and_settings(make_run: Callable[..., Path]) -> None:
    run = make_run("modern", kind="ada_pinned", epochs=5, settings=MODERN, recipe=RECIPE)
    html = write_report(run).read_text(encoding="utf-8")
    text = _text(html)
    header = _text(html[html.index('<header class="top">') : html.index("</header>")])
    assert "recipe small v2 (overridden: g_lr) · loss hinge · augment ada (p 0.8" in header
    assert "EMA 10 kimg · R1 γ 0.0128 · D spectral norm" in header
    # the chart of p, with the level the diagnosis calls pinned high
    assert 'aria-label="ADA augmentation probability p"' in html
    figure = html[html.index("<figcaption>ADA augmentation probability p") :]
    figure = figure[: figure.index("</figure>")]
    assert "p ≥ 0.7 for long: D overfits" in figure and "<polyline" in figure
    # the diagnosis reads p, on the hinge scale
    assert "D overfits (ADA's p pinned high)" in text
    assert "ADA p (recent median)" in text
    assert "loss (hinge)" in text
    # the recipe record in the configuration section
    assert "Recipe" in text and "overridden" in text


def test_report_of_an_old_run_reads_its_defaults(make_run: Callable[..., Path]) -> None:
    run = make_run("old", kind="healthy", epochs=3)  # cxrgan 0.1: no loss, augment, recipe
    html = write_report(run).read_text(encoding="utf-8")
    header = _text(html[html.index('<header class="top">') : html.index("</header>")])
    assert "loss bce · augment none · no EMA" in header and "recipe" not in header
    assert "ADA augmentation probability" not in html
    assert "Discriminator outputs as probabilities, σ(logit)" in html
