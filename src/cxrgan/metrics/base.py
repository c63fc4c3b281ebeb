"""What a metric is: one `Metric` entry, listed in metrics/registry.py.

An entry declares its output keys (each with how to read it), the fewest images it needs and
why, and a function from a `Pair` (both sides, drawn and converted once) to its numbers.
`evaluate_sets` runs every registered entry the set sizes allow; see docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property

import torch

from cxrgan.metrics.images import ImageArray
from cxrgan.metrics.kid import DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS
from cxrgan.metrics.memorisation import MemorisationResult
from cxrgan.metrics.packet_pass import Described, describe
from cxrgan.metrics.prdc import DEFAULT_K
from cxrgan.metrics.wavelets import default_level

Values = Mapping[str, float | None]


@dataclass(frozen=True)
class MetricInfo:
    """How to read one output key."""

    better: str  # "lower", "higher", "~1", "" (informational)
    meaning: str
    caveat: str
    whole: bool = False  # a count: printed without decimals
    in_class_table: bool = True  # a row of the per-class table: worth comparing across classes

    def about(self) -> dict[str, str]:
        """What `cxrgan evaluate --json` says about the key (its "about" entry)."""
        return {"better": self.better, "meaning": self.meaning, "caveat": self.caveat}


@dataclass(frozen=True)
class MetricOptions:
    """The settings of one evaluation that metrics may read."""

    k: int = DEFAULT_K  # PRDC's nearest neighbours
    kid_subsets: int = DEFAULT_SUBSETS
    kid_subset_size: int = DEFAULT_SUBSET_SIZE
    seed: int = 0  # for random draws inside a metric (KID's subsets)
    level: int | None = None  # Haar level; None: the default for the image size


@dataclass(frozen=True)
class SetSizes:
    """Images a metric would see: drawn per side, and every real (training) image."""

    real: int
    fake: int
    train: int


@dataclass
class Pair:
    """Both sides as a metric reads them."""

    real: torch.Tensor  # the drawn real images, (N, H, W) float64 in [0, 1]
    fake: torch.Tensor  # the drawn generated images, likewise
    train: ImageArray  # every real image as given: a copy of any of them counts
    fake_given: ImageArray  # the drawn generated images as given
    options: MetricOptions
    memorised: MemorisationResult | None = None  # memorisation(train, fake_given), if known

    @property
    def level(self) -> int:
        """The Haar level the wavelet metrics use."""
        level = self.options.level
        return default_level(min(self.real.shape[-2:])) if level is None else level

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.real.shape[1]), int(self.real.shape[2])

    @cached_property
    def described(self) -> tuple[Described, Described]:
        """(real, fake): one pass over each side's Haar packets, shared by FWD, KID and PRDC."""
        return describe(self.real, self.level, True), describe(self.fake, self.level, True)


@dataclass(frozen=True)
class Metric:
    """One metric: its keys, what it needs, and how to compute it.

    min_images: per side, or of training images when `of_training`; a function of the options
    when it depends on them (PRDC needs k + 1). needs: why, in words, with options as {k} etc.
    named: the keys a skip message names (default: every key).
    """

    keys: Mapping[str, MetricInfo]  # its outputs, in order
    compute: Callable[[Pair], Values]
    min_images: int | Callable[[MetricOptions], int] = 2
    needs: str = ""
    of_training: bool = False
    named: tuple[str, ...] = ()

    def minimum(self, options: MetricOptions) -> int:
        return self.min_images if isinstance(self.min_images, int) else self.min_images(options)

    def why_skipped(self, sizes: SetSizes, options: MetricOptions) -> str | None:
        """Why these set sizes do not allow the metric; None when they do."""
        need = self.minimum(options)
        names = ", ".join(self.named or self.keys)
        if self.of_training:
            if sizes.train >= need:
                return None
            return f"{names}: needs at least {need} training images, got {sizes.train}"
        sides = (("real", sizes.real), ("generated", sizes.fake))
        short = [f"{n} {side}" for side, n in sides if n < need]
        if not short:
            return None
        why = f" ({self.needs.format(**asdict(options))})" if self.needs else ""
        return f"{names}: need at least {need} images per side{why}, got {' and '.join(short)}"
