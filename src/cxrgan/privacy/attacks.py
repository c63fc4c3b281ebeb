"""The membership-inference attacks: each gives every query film a score, higher meaning "more
likely a training film" (docs/privacy.md).

- white-box, LOGAN (Hayes et al. 2019): D's logit. D learnt to call its training films real; a
  D that overfits calls them more real than films of other patients.
- black-box, GAN-Leaks full black-box (Chen et al. 2020): minus the distance from the film to
  its nearest generated image. A generator that reproduces its training films puts a generated
  image near each of them. Two distances: the memorisation check's (32 × 32 thumbnails,
  standardised per image: metrics/memorisation.py) and plain pixels (root mean square over
  pixels in [0, 1]).
- calibrated (GAN-Leaks' calibration; LOGAN's score minus a reference D's): the same score
  minus that of a reference generator trained on other patients, which takes out how typical
  a film is (a film every generator draws near is not evidence of membership).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from cxrgan.inference.generate import sample_images
from cxrgan.metrics.images import to_unit
from cxrgan.metrics.memorisation import nearest, thumbnails
from cxrgan.models.base import Generator
from cxrgan.privacy.films import Films
from cxrgan.privacy.target import Target, d_logits

DRAW_CHUNK = 256  # generated images per draw (one step of the progress bar)
SPACES = ("features", "pixels")
TITLES = {
    "white_box": "white-box: D's logit (LOGAN)",
    "black_box_features": "black-box: nearest generated image, thumbnails (GAN-Leaks)",
    "black_box_pixels": "black-box: nearest generated image, pixels (GAN-Leaks)",
}
TITLES.update({f"{k}_calibrated": f"{v}, minus the reference's" for k, v in list(TITLES.items())})


@dataclass
class Scores:
    """One attack's score for every member and non-member, or why it could not run."""

    key: str
    members: np.ndarray | None = None
    nonmembers: np.ndarray | None = None
    skipped: str | None = None

    @property
    def title(self) -> str:
        return TITLES[self.key]


UNCONDITIONAL = 2**32 - 1  # draw's class slot for an unconditional generator


def draw(
    g: Generator, n: int, c: int | None, seed: int, device: str, progress: bool, what: str
) -> np.ndarray:
    """`n` images of class `c` (None: unconditional), in seeded chunks behind a progress bar."""
    parts = []
    starts = range(0, n, DRAW_CHUNK)
    for j in tqdm(starts, desc=what, unit="chunk", disable=not progress, leave=False):
        b = min(DRAW_CHUNK, n - j)
        # SeedSequence takes non-negative entropy only: 2**32 - 1 marks "no class"
        chunk_seed = int(
            np.random.SeedSequence([seed, UNCONDITIONAL if c is None else c, j]).generate_state(1)[
                0
            ]
        )
        labels = None if c is None else torch.full((b,), c, dtype=torch.long)
        parts.append(sample_images(g, b, chunk_seed, device, labels))
    return np.concatenate(parts)


def embed(images: np.ndarray, space: str) -> torch.Tensor:
    """Rows whose Euclidean distance is the attack's: thumbnails, or pixels scaled to RMS."""
    if space == "features":
        return thumbnails(images)
    x = to_unit(images).flatten(1)
    return x / x.shape[1] ** 0.5


def nearest_distances(
    target: Target, films: Films, n_generated: int, seed: int, device: str, progress: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per space, (members', non-members') distance to the nearest of `n_generated` images of
    the generator, of the film's class for a conditional run."""
    groups: Sequence[int | None] = range(len(films.classes)) if films.classes else [None]
    out = {s: (np.empty(len(films.members)), np.empty(len(films.nonmembers))) for s in SPACES}
    name = target.path.name
    for c in groups:
        label = "" if c is None else f" {films.classes[c]}"
        fake = draw(target.g, n_generated, c, seed, device, progress, f"drawing {name}{label}")
        for side, images, classes in (
            (0, films.members, films.member_classes),
            (1, films.nonmembers, films.nonmember_classes),
        ):
            rows = np.arange(len(images)) if c is None else np.flatnonzero(classes == c)
            for space in SPACES:
                dist, _ = nearest(embed(images[rows], space), embed(fake, space))
                out[space][side][rows] = dist.numpy()
    return out


def white_box(
    target: Target, films: Films, seed: int, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """D's logit of every member and non-member, all scored in shared batches."""
    assert target.d is not None
    images = np.concatenate([films.members, films.nonmembers])
    classes = None
    if films.member_classes is not None and films.nonmember_classes is not None:
        classes = np.concatenate([films.member_classes, films.nonmember_classes])
    logits = d_logits(target.d, images, classes, seed, device)
    return logits[: len(films.members)], logits[len(films.members) :]


def run_attacks(
    target: Target,
    reference: Target | None,
    films: Films,
    n_generated: int,
    seed: int,
    device: str,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[Scores]:
    """Every attack, in TITLES order; a calibrated one only with a reference."""
    found: dict[str, Scores] = {}
    if target.d is None:
        found["white_box"] = Scores("white_box", skipped=f"skipped: {target.d_missing}")
    else:
        found["white_box"] = Scores("white_box", *white_box(target, films, seed, device))
    log(f"black-box: distances to {n_generated} generated images per class")
    for space, (m, n) in nearest_distances(
        target, films, n_generated, seed, device, progress
    ).items():
        found[f"black_box_{space}"] = Scores(f"black_box_{space}", -m, -n)
    if reference is None:
        return list(found.values())
    ref = reference_scores(reference, films, n_generated, seed, device, progress)
    for key, (m, n) in ref.items():
        own = found[key]
        calibrated = f"{key}_calibrated"
        if own.skipped or m is None or n is None:
            why = (
                own.skipped
                or f"skipped: the reference has no discriminator ({reference.d_missing})"
            )
            found[calibrated] = Scores(calibrated, skipped=why)
        else:
            assert own.members is not None and own.nonmembers is not None
            found[calibrated] = Scores(calibrated, own.members - m, own.nonmembers - n)
    return list(found.values())


def reference_scores(
    reference: Target, films: Films, n_generated: int, seed: int, device: str, progress: bool
) -> dict[str, tuple[np.ndarray | None, np.ndarray | None]]:
    """The reference generator's (and D's) scores of the same films, for the calibration."""
    out: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {"white_box": (None, None)}
    if reference.d is not None:
        out["white_box"] = white_box(reference, films, seed, device)
    dist = nearest_distances(reference, films, n_generated, seed, device, progress)
    for space, (m, n) in dist.items():
        out[f"black_box_{space}"] = (-m, -n)
    return out
