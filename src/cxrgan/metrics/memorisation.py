"""Memorisation: is a generated image a (near) copy of one training image?

For every generated image: distance to its nearest training image. For calibration: a training
image's distance to its nearest OTHER training image that is not a duplicate of it
(leave-one-out, duplicates left out too), for every training image up to CALIBRATION_QUERIES of
them, else for that many drawn at random (seeded) and searched for among all of them: the
calibration then costs O(queries x N), not O(N²), and a 1st percentile from 5,000 distances is
known to about ±0.14 percentile points (docs/metrics.md, Memorisation). Two different radiographs
are rarely closer than the 1st percentile of that real-to-real distribution, so a generated image
closer than it to a training image is flagged as a likely copy. A healthy generator flags about
1 % (as a held-out real set would); copying generators approach 100 %.

The training images are searched a chunk at a time (POOL_CHUNK): only the queries' thumbnails
and one chunk's are held, so a memory-mapped training set larger than memory can be searched.

Duplicates: public sets hold the same film more than once (the Kaggle training split has 50
images whose exact twin is in the set). Counted as neighbours, they put zeros into the
calibration: with a few percent of duplicates the 1st percentile is 0 and no copy is ever
flagged. So training images closer than DUPLICATE_DISTANCE to each other (Pearson r of the
thumbnails > 0.995; different patients are at 0.23 or more, see docs/metrics.md) are not each
other's neighbours when calibrating. A generated image that close to a training image is always
a copy: the threshold never falls below DUPLICATE_DISTANCE.

The distance is Euclidean between images that are
* downsampled by area averaging to 32 x 32: copying is about the whole layout of one film,
  not pixel noise; averaging removes grain and GAN high-frequency artefacts that would make a
  copy look far away, and makes the all-pairs search cheap;
* standardised per image (zero mean, unit norm): a copy with slightly different brightness or
  contrast is still a copy. The distance is then sqrt(2 - 2 r), r the Pearson correlation of the
  two thumbnails, between 0 (identical up to brightness/contrast) and 2.
Feature spaces such as the KID features pool away position, so two different patients with
similar texture statistics would look like copies there; pixel space does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cxrgan.metrics.images import ImageArray, chunks, subsample, to_unit

THUMB = 32
PERCENTILE = 1.0
CALIBRATION_QUERIES = 5_000  # training images whose nearest neighbour calibrates the cut-off
CALIBRATION_SEED = 0  # which ones, when the training images are more
BLOCK = 2048  # queries compared at a time
POOL_CHUNK = 2048  # training images searched at a time (a BLOCK x POOL_CHUNK matrix: 32 MB)
THUMB_CHUNK = 128  # images turned into thumbnails at a time (128 x 512² x 8 bytes = 268 MB)
COPY_TOLERANCE = 1e-6  # rounding of an exact copy's distance
# Two thumbnails nearer than this are one film (d = sqrt(2 - 2r): r > 0.995). Measured at 64 px:
# distinct Kaggle images >= 0.228 apart, cxr-kermany/png128 >= 0.375; exact twins at 0.
DUPLICATE_DISTANCE = 0.1


def thumbnails(images: ImageArray, size: int = THUMB, chunk: int = THUMB_CHUNK) -> torch.Tensor:
    """(N, size*size) per-image standardised, area-downsampled images (unit norm, zero mean).

    Made `chunk` images at a time: the training images may be a memory-mapped cache larger
    than memory, of which only the thumbnails (8 kB each) are ever held."""
    if len(images) <= chunk:
        return _thumbnails(images, size)
    return torch.cat([_thumbnails(images[rows], size) for rows in chunks(len(images), chunk)])


def _thumbnails(images: ImageArray, size: int) -> torch.Tensor:
    x = to_unit(images).unsqueeze(1)
    if min(x.shape[-2:]) > size:
        x = F.adaptive_avg_pool2d(x, size)
    v = x.flatten(1)
    v = v - v.mean(1, keepdim=True)
    return v / v.norm(dim=1, keepdim=True).clamp(min=1e-12)  # flat images stay all-zero


def rows_thumbnails(
    images: ImageArray, rows: np.ndarray, size: int = THUMB, chunk: int = THUMB_CHUNK
) -> torch.Tensor:
    """`thumbnails(images[rows])`, reading `chunk` of those rows at a time."""
    return torch.cat([_thumbnails(images[rows[part]], size) for part in chunks(len(rows), chunk)])


class NearestSearch:
    """Each query's nearest pool row, the pool given a chunk at a time (`add`): no matrix larger
    than BLOCK x chunk. own: each query's row in the pool, skipped (leave-one-out). duplicate:
    pool rows nearer than this are skipped too, and noted in `has_duplicate`."""

    def __init__(
        self, query: torch.Tensor, own: torch.Tensor | None = None, duplicate: float | None = None
    ) -> None:
        self.query, self.own, self.duplicate = query, own, duplicate
        self.d2 = torch.full((len(query),), float("inf"), dtype=torch.float64)
        self.index = torch.zeros(len(query), dtype=torch.long)
        self.has_duplicate = torch.zeros(len(query), dtype=torch.bool)

    def add(self, pool: torch.Tensor, offset: int) -> None:
        """Search pool rows offset .. offset + len(pool) - 1 (their thumbnails, `pool`)."""
        for rows in chunks(len(self.query), BLOCK):
            d2 = _squared_distances(self.query[rows], pool)
            if self.own is not None:
                own = self.own[rows] - offset
                mine = torch.nonzero((own >= 0) & (own < len(pool))).squeeze(1)
                d2[mine, own[mine]] = float("inf")
            if self.duplicate is not None:
                dup = d2 < self.duplicate**2
                self.has_duplicate[rows] |= dup.any(1)
                d2[dup] = float("inf")
            best = d2.min(1)
            better = best.values < self.d2[rows]  # ties: the earlier row, as one min would
            self.d2[rows] = torch.where(better, best.values, self.d2[rows])
            self.index[rows] = torch.where(better, best.indices + offset, self.index[rows])

    @property
    def distance(self) -> torch.Tensor:
        """(N_query,) float64 distances; inf where every pool row was skipped."""
        return self.d2.clamp(min=0).sqrt()


def nearest(
    query: torch.Tensor, pool: torch.Tensor, exclude_self: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each query row's nearest pool row; optionally skip row i for query i."""
    search = NearestSearch(query, torch.arange(len(query)) if exclude_self else None)
    for part in chunks(len(pool), POOL_CHUNK):
        search.add(pool[part], part.start)
    return search.distance, search.index


def _squared_distances(q: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    # |a - b|² expanded into one matrix product; rounding can dip below 0 (clamped by callers).
    return q.pow(2).sum(1, keepdim=True) + pool.pow(2).sum(1) - 2 * q @ pool.T


def calibration_rows(
    n_train: int, queries: int = CALIBRATION_QUERIES, seed: int = CALIBRATION_SEED
) -> np.ndarray:
    """The training images whose nearest neighbours calibrate the cut-off: all of them up to
    `queries`, else `queries` of them drawn without replacement (seeded), in order."""
    return np.asarray(subsample(np.arange(n_train), queries, seed))


@dataclass
class MemorisationResult:
    """Nearest-training-image distances of generated images, calibrated on real-real ones."""

    fake_distance: np.ndarray  # (N_fake,) distance to the nearest training image
    fake_index: np.ndarray  # (N_fake,) index of that training image
    # (queries,) each calibration query's nearest non-duplicate other training image
    real_distance: np.ndarray
    threshold: float  # `percentile`-th percentile of the finite real_distance, >= duplicate
    percentile: float
    duplicates: int = 0  # calibration queries with a duplicate (closer than DUPLICATE_DISTANCE)
    calibration_rows: np.ndarray | None = None  # the queries' training rows (None: all, in order)

    @property
    def queries(self) -> int:
        """Training images whose nearest neighbour calibrated the threshold."""
        return len(self.real_distance)

    @property
    def flagged(self) -> np.ndarray:
        """Boolean mask of generated images closer to a training image than the threshold."""
        return self.fake_distance < max(self.threshold, COPY_TOLERANCE)

    @property
    def _calibration(self) -> np.ndarray:
        finite = self.real_distance[np.isfinite(self.real_distance)]
        return finite if len(finite) else np.array([DUPLICATE_DISTANCE])

    @property
    def share(self) -> float:
        """Share of generated images flagged as copies (~percentile/100 healthy, 1 = copying)."""
        return float(self.flagged.mean())

    @property
    def distance_ratio(self) -> float:
        """median(fake -> train) / median(train -> other train): < 1 means closer than reals are."""
        return float(np.median(self.fake_distance) / max(np.median(self._calibration), 1e-12))

    def as_dict(self) -> dict[str, float]:
        return {
            "memorised_share": self.share,
            "nn_distance_ratio": self.distance_ratio,
            "nn_threshold": self.threshold,
            "train_duplicates": float(self.duplicates),
            "calibration_queries": float(self.queries),
        }


def copy_threshold(real_distance: np.ndarray, percentile: float = PERCENTILE) -> float:
    """The copy cut-off: `percentile` of the finite non-duplicate nearest-neighbour distances,
    never below DUPLICATE_DISTANCE (DUPLICATE_DISTANCE itself when every image is a duplicate)."""
    finite = real_distance[np.isfinite(real_distance)]
    if len(finite) == 0:
        return DUPLICATE_DISTANCE
    return max(float(np.percentile(finite, percentile)), DUPLICATE_DISTANCE)


def memorisation(
    train: ImageArray,
    fake: ImageArray,
    size: int = THUMB,
    percentile: float = PERCENTILE,
    queries: int = CALIBRATION_QUERIES,
) -> MemorisationResult:
    """Nearest training image of every generated image, and the real-real calibration on
    `queries` training images (all of them when they are no more), in one chunked pass over
    the training images."""
    if len(train) < 2:
        raise ValueError(f"memorisation needs at least 2 training images, got {len(train)}")
    rows = calibration_rows(len(train), queries)
    f, q = thumbnails(fake, size), rows_thumbnails(train, rows, size)
    if q.shape[1] != f.shape[1]:
        raise ValueError("training and generated images differ in size")
    fakes = NearestSearch(f)
    reals = NearestSearch(q, own=torch.from_numpy(rows), duplicate=DUPLICATE_DISTANCE)
    every = len(rows) == len(train)  # the queries' thumbnails are the pool's: not made twice
    for part in chunks(len(train), POOL_CHUNK):
        pool = q[part] if every else thumbnails(train[part], size)
        fakes.add(pool, part.start)
        reals.add(pool, part.start)
    real = reals.distance.numpy()
    return MemorisationResult(
        fake_distance=fakes.distance.numpy(),
        fake_index=fakes.index.numpy(),
        real_distance=real,
        threshold=copy_threshold(real, percentile),
        percentile=percentile,
        duplicates=int(reals.has_duplicate.sum()),
        calibration_rows=rows,
    )


def _tile(image: ImageArray, scale: int) -> Image.Image:
    pixels = (to_unit(image[None] if image.ndim == 2 else image)[0] * 255).round().to(torch.uint8)
    tile = Image.fromarray(pixels.numpy(), mode="L")
    return tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST)


def save_memorisation_png(
    result: MemorisationResult,
    fake: ImageArray,
    train: ImageArray,
    path: Path | str,
    pairs: int = 16,
    per_row: int = 4,
) -> Path:
    """Save the `pairs` closest (generated | nearest training) pairs, closest first, as a PNG.

    Each pair is generated on the left, training image on the right; pairs are laid out
    `per_row` to a row, separated by gaps. Small images are enlarged to >= 64 px for viewing.
    """
    order = np.argsort(result.fake_distance, kind="stable")[:pairs]
    if len(order) == 0:
        raise ValueError("no generated images")
    h, w = fake.shape[-2:]
    scale = max(1, -(-64 // min(h, w)))
    th, tw, gap, pad = h * scale, w * scale, 2, 8
    cols = min(per_row, len(order))
    rows = -(-len(order) // cols)
    pair_w = 2 * tw + gap
    sheet = Image.new("L", (cols * pair_w + (cols + 1) * pad, rows * th + (rows + 1) * pad), 255)
    for slot, i in enumerate(order):
        x = pad + (slot % cols) * (pair_w + pad)
        y = pad + (slot // cols) * (th + pad)
        sheet.paste(_tile(fake[int(i)], scale), (x, y))
        sheet.paste(_tile(train[int(result.fake_index[i])], scale), (x + tw + gap, y))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
