"""The samples of a run's report: the filmstrip of its epoch grids, real beside generated, and
the memorisation pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cxrgan.reporting.formatting import fmt_value
from cxrgan.reporting.html_images import Img, load_image, thumbnail
from cxrgan.reporting.html_page import e, img_tag, section
from cxrgan.reporting.run_data import RunData

MAX_FRAMES = 40  # filmstrip frames at most: every k-th epoch beyond that (first and last kept)
FRAME_BUDGET = 6 * 2**20  # PNG bytes for the filmstrip; fewer frames when grids are large
# Earlier filmstrip frames are shown 560 px wide: wider grids (image_size 128+) are downscaled
# to that once (cached); 64-px grids (530 px) go in as they are. The latest grid keeps up to
# LATEST_MAX_WIDTH, for a closer look.
FRAME_MAX_WIDTH = 560
LATEST_MAX_WIDTH = 1100


def _pick_frames(grids: Sequence[tuple[int, Path]]) -> list[tuple[int, Path]]:
    """At most MAX_FRAMES evenly spaced grids (first and last kept), within FRAME_BUDGET."""
    if not grids:
        return []
    sizes = [p.stat().st_size if p.is_file() else 0 for _, p in grids]
    mean = max(1.0, sum(sizes) / len(sizes))
    limit = int(max(2, min(MAX_FRAMES, FRAME_BUDGET // mean)))
    if len(grids) <= limit:
        return list(grids)
    idx = np.unique(np.round(np.linspace(0, len(grids) - 1, limit)).astype(int))
    return [grids[i] for i in idx]


def samples_section(run: RunData) -> str:
    chosen = _pick_frames(run.grids)
    picked = [
        (ep, p, load_image(p, LATEST_MAX_WIDTH if i == len(chosen) - 1 else FRAME_MAX_WIDTH))
        for i, (ep, p) in enumerate(chosen)
    ]
    shown_frames = [(ep, p, img) for ep, p, img in picked if img is not None]
    if not shown_frames:
        return section("samples", "Samples", '<p class="muted">No sample grids yet.</p>')
    frames = [(ep, p) for ep, p, _ in shown_frames]
    images = [img for _, _, img in shown_frames]
    last_epoch, last_img = frames[-1][0], images[-1]
    thumbs = "".join(
        f'<button type="button" class="thumb" data-i="{i}" title="epoch {ep}">'
        f"{img_tag(thumbnail(p, run.tile), f'epoch {ep}')}<span>{ep}</span></button>"
        for i, (ep, p) in enumerate(frames)
    )
    total = run.grids[-1][0]
    shown = "" if len(frames) == len(run.grids) else f" ({len(frames)} of {len(run.grids)} shown)"
    n = len(frames)
    body = (
        '<div class="film" id="film">'
        f'<figure class="frame">{img_tag(last_img, f"samples at epoch {last_epoch}", "grid")}'
        f'<figcaption id="frame-cap">epoch {last_epoch} of {total}</figcaption></figure>'
        '<div class="controls">'
        '<button type="button" id="prev" aria-label="previous epoch">◀</button>'
        f'<input type="range" id="frame-range" min="0" max="{n - 1}" value="{n - 1}" step="1" '
        'aria-label="epoch">'
        '<button type="button" id="next" aria-label="next epoch">▶</button>'
        '<button type="button" id="play">play</button></div>'
        f'<div class="strip" id="strip">{thumbs}</div></div>'
        f'<script type="application/json" id="frames-data">{_frames_json(frames, images)}'
        "</script>"
    )
    note = (
        "The same fixed noise after every epoch: drag the slider, use ← →, or click a "
        f"thumbnail{e(shown)}. Thumbnails show the top-left 8 images."
    )
    return section("samples", "Samples across epochs", body, note)


def _frames_json(frames: Sequence[tuple[int, Path]], images: Sequence[Img]) -> str:
    """[{"epoch": 1, "src": "data:..."}, ..., {"epoch": N, "src": null}] — built by hand: the
    URIs are base64 (nothing to escape) and json.dumps of megabytes costs a tenth of a second.
    The last frame is the <img> already on the page, so its bytes are not repeated."""
    items = [
        f'{{"epoch":{int(ep)},"src":"{img.uri}"}}'
        for (ep, _), img in zip(frames, images, strict=True)
    ]
    items[-1] = f'{{"epoch":{int(frames[-1][0])},"src":null}}'
    return "[" + ",".join(items) + "]"


def real_vs_generated(run: RunData) -> str:
    real = run.path / "samples" / "real.png"
    latest = next(
        ((ep, p, img) for ep, p in reversed(run.grids) if (img := load_image(p, LATEST_MAX_WIDTH))),
        None,
    )
    if not real.is_file() and latest is None:
        return ""
    left = img_tag(load_image(real, LATEST_MAX_WIDTH), "real training images", "grid")
    right = (
        img_tag(latest[2], f"generated at epoch {latest[0]}", "grid")
        if latest
        else '<div class="missing">no generated samples yet</div>'
    )
    cap_right = f"generated, epoch {latest[0]}" if latest else "generated"
    div_real = f" · diversity {fmt_value(run.real_diversity)}" if run.real_diversity else ""
    div_gen = f" · diversity {fmt_value(run.diversity[-1][1])}" if run.diversity else ""
    body = (
        '<div class="pair">'
        f"<figure>{left}<figcaption>real (samples/real.png){e(div_real)}</figcaption></figure>"
        f"<figure>{right}<figcaption>{e(cap_right)}{e(div_gen)}</figcaption></figure></div>"
    )
    return section("real", "Real vs generated", body)


def memorisation_section(run: RunData) -> str:
    img = load_image(run.path / "memorisation.png", 2 * LATEST_MAX_WIDTH)
    if img is None:
        return ""
    note = (
        "Each generated image beside its closest training image (written by "
        "<code>cxrgan evaluate</code>). Near-identical pairs mean the generator copies its "
        "training data."
    )
    shown = min(2 * img.width, 1100) if img.width <= 640 else img.width  # small tiles: enlarge
    body = (
        f'<figure class="memo" style="max-width:{shown}px">'
        f"{img_tag(img, 'closest generated/training pairs')}</figure>"
    )
    return section("memorisation", "Memorisation check", body, note)
