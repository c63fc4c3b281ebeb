"""A trained generator as users hold it: sample by class name, and a Dataset of synthetic X-rays.

`SyntheticGenerator` wraps a run's generator with its model spec, so images are asked for by
class name ("PNEUMONIA") or index and come back as uint8 pixels or as tensors in [-1, 1].
`SyntheticDataset` draws n images once, at construction, and serves them as
`(image, class_index)` pairs the way torchvision's ImageFolder does, so they mix with real
images in a ConcatDataset and a DataLoader (any `num_workers`: it holds pixels, no network).
Weights come only from the run's safetensors checkpoints (`generate.load_model`).
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from cxrgan.data.pixels import from_uint8
from cxrgan.errors import CxrganError
from cxrgan.inference import generate
from cxrgan.models import ModelSpec
from cxrgan.models.base import Generator
from cxrgan.models.sampling import sample_tensors
from cxrgan.training.device import resolve_device
from cxrgan.training.rundir import RunDir

# One class (a name or an index), or one per image.
Label = str | int | Sequence[str | int] | np.ndarray | torch.Tensor | None
UNCONDITIONAL_CLASS = "synthetic"  # SyntheticDataset.classes of an unconditional generator


class SyntheticGenerator:
    """A trained generator with its spec: `.sample(n, label=..., seed=...)`.

    Build one with `cxrgan.load_generator(run)` (or `SyntheticGenerator.load`); wrapping a bare
    `Generator` module also works (its classes then have indices but no names). It samples in
    eval mode on its batch norms' running statistics: a module from a checkpoint loader has its
    standing statistics; give any other one them first (`models.standing.
    compute_standing_stats`, docs/metrics.md).
    """

    def __init__(
        self,
        module: Generator,
        spec: ModelSpec | None = None,
        checkpoint: Path | None = None,
        ema: bool = False,
    ):
        self.module = module
        # A bare module carries its shape but not the names of its classes.
        self.spec = spec or ModelSpec(
            type(module).__name__,
            z_dim=module.z_dim,
            resolution=module.resolution,
            c_dim=module.c_dim,
            channels=module.channels,
        )
        self.checkpoint = checkpoint  # the .safetensors file the weights came from
        self.ema = ema  # G_ema (True) or the trained G itself
        self.last_seed: int | None = None  # the seed of the latest sample(), drawn or given

    @classmethod
    def load(
        cls,
        run: str | Path,
        checkpoint: str = "best",
        device: str | torch.device = "cpu",
        raw: bool = False,
    ) -> SyntheticGenerator:
        """Run `run`'s generator from checkpoints/<checkpoint> (its EMA copy unless `raw`).

        "best" exists only for runs trained with eval_every; for any other run it falls back
        to "last" with a warning saying so. Any other missing name is an error that lists the
        run's checkpoints. device: "cpu", "cuda", "cuda:1", "mps" or "auto".
        """
        run = Path(run)
        if checkpoint == "best" and not RunDir.open(run).checkpoint("best").is_file():
            warnings.warn(
                f"{run} has no checkpoints/best (it is kept only when training evaluates, "
                f"eval_every / --eval-every); using checkpoints/last",
                stacklevel=3,  # the caller of load_generator / SyntheticDataset
            )
            checkpoint = "last"
        dev = resolve_device(device) if isinstance(device, str) else device
        loaded = generate.load_model(run, checkpoint, dev, raw)
        return cls(loaded.g, loaded.spec, loaded.checkpoint, loaded.ema)

    # --- what it is ------------------------------------------------------------------------

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in index order (the training folder's subfolders); () if unconditional.

        A conditional generator without stored names gets "0", "1", ...
        """
        if self.spec.classes or not self.c_dim:
            return self.spec.classes
        return tuple(str(i) for i in range(self.c_dim))

    @property
    def c_dim(self) -> int:
        return self.module.c_dim

    @property
    def z_dim(self) -> int:
        return self.module.z_dim

    @property
    def resolution(self) -> int:
        return self.module.resolution

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def to(self, device: str | torch.device) -> SyntheticGenerator:
        """Move the generator (in place, like nn.Module.to) and return self."""
        self.module.to(resolve_device(device) if isinstance(device, str) else device)
        return self

    def __repr__(self) -> str:
        where = f", checkpoint={str(self.checkpoint)!r}" if self.checkpoint else ""
        return f"SyntheticGenerator({self.spec.describe()}{where}, device={self.device})"

    # --- drawing ---------------------------------------------------------------------------

    def class_indices(self, label: Label, n: int) -> torch.Tensor | None:
        """The (n,) class index of each image for `label`; None for an unconditional generator.

        label: a class name or index for all n images, or a sequence of n of them. None on a
        conditional generator takes the classes in turn (image i gets class i mod c_dim), so
        every batch is balanced and the class of each image is known.
        """
        if not self.c_dim:
            if label is not None:
                raise CxrganError(
                    f"this generator ({self.spec.describe()}) is unconditional: it has no "
                    f"classes, so leave label=None (got {label!r})"
                )
            return None
        if label is None:
            return torch.arange(n) % self.c_dim
        if isinstance(label, torch.Tensor | np.ndarray) and label.ndim > 0:
            items = label.tolist()
        elif isinstance(label, Sequence) and not isinstance(label, str):
            items = list(label)
        else:  # one class for every image (or a wrong type, which _index names)
            return torch.full((n,), self._index(label), dtype=torch.long)
        if len(items) != n:
            raise CxrganError(f"label has {len(items)} entries for {n} images; give one per image")
        return torch.tensor([self._index(x) for x in items], dtype=torch.long)

    def _index(self, label: Any) -> int:
        if isinstance(label, torch.Tensor | np.ndarray):
            label = label.item()
        if isinstance(label, str):
            if not self.spec.classes:
                raise CxrganError(
                    f"no class {label!r}: this generator's classes have no names; "
                    f"use an index 0..{self.c_dim - 1}"
                )
            return self.spec.class_index(label)  # its error names the classes
        if isinstance(label, int | np.integer) and not isinstance(label, bool):
            if 0 <= label < self.c_dim:
                return int(label)
            raise CxrganError(f"no class index {label}; this generator draws {self._menu()}")
        raise CxrganError(f"a label is a class name or index, not {label!r} ({self._menu()})")

    def _menu(self) -> str:
        return ", ".join(f"{i} {name}" for i, name in enumerate(self.classes))

    def sample(
        self,
        n: int,
        label: Label = None,
        seed: int | None = None,
        output: Literal["uint8", "tensor"] = "uint8",
    ) -> np.ndarray | torch.Tensor:
        """`n` synthetic images.

        output "uint8": numpy (n, S, S), 0..255, the pixels `cxrgan generate` writes;
        "tensor": float (n, 1, S, S) in [-1, 1] on the generator's device (what training saw).
        label: see `class_indices` (None on a conditional generator: classes in turn).
        seed: the same seed, labels and device give the same images; None draws a fresh
        seed, kept in `.last_seed` so a draw can be repeated. Image i depends only on the
        seed, i and its class, not on n: G samples in eval mode on its standing statistics
        (docs/metrics.md), so `sample(1)` is the first image of any larger draw, bit for bit.
        """
        if output not in ("uint8", "tensor"):
            raise CxrganError(f"output must be 'uint8' or 'tensor', not {output!r}")
        labels = self.class_indices(label, _count(n))
        if output == "uint8":
            return self.pixels(n, labels, seed)
        return sample_tensors(self.module, n, self._seed(seed), self.device, labels)

    def pixels(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ) -> np.ndarray:
        """`sample` as uint8 with class indices already resolved (`class_indices`), through
        the very function `cxrgan generate` uses, so the pixels are identical to its files."""
        seed = self._seed(seed)
        return generate.sample_images(self.module, _count(n), seed, device or self.device, labels)

    def _seed(self, seed: int | None) -> int:
        self.last_seed = secrets.randbits(63) if seed is None else int(seed)
        return self.last_seed


def _count(n: int) -> int:
    if n < 1:
        raise CxrganError(f"n must be at least 1, got {n}")
    return n


class SyntheticDataset(Dataset):
    """`n` synthetic images of a run as a map-style Dataset of `(image, class_index)` pairs.

    The images are drawn once, here, from `seed` (so the same arguments give the same dataset,
    and indexing is cheap, picklable and fork-safe for DataLoader workers); they are held as
    uint8 pixels, n·S² bytes (10,000 at 64 px: 41 MB).

    run: a run directory, or a `SyntheticGenerator` already loaded.
    label: a class name or index for every image, one per image, or None: a conditional
        generator's classes in turn (balanced); an unconditional one's images get class 0,
        `classes == ["synthetic"]` (map it onto yours with target_transform).
    transform: as torchvision's ImageFolder: it receives a PIL image in mode "L" (S×S) and
        what it returns is the image. Without one, `output` says what an image is: "tensor"
        (default), float (1, S, S) in [-1, 1], the scaling cxrgan trains on; "pil", the PIL image.
    target_transform: applied to the class index.
    checkpoint, device, raw: as for `cxrgan.load_generator`, when `run` is a path; the images
        are drawn on `device` and kept in host memory.
    """

    def __init__(
        self,
        run: str | Path | SyntheticGenerator,
        n: int,
        label: Label = None,
        transform: Callable[[Image.Image], Any] | None = None,
        seed: int = 0,
        checkpoint: str = "best",
        output: Literal["tensor", "pil"] = "tensor",
        target_transform: Callable[[int], Any] | None = None,
        device: str | torch.device = "cpu",
        raw: bool = False,
    ):
        if output not in ("tensor", "pil"):
            raise CxrganError(f"output must be 'tensor' or 'pil', not {output!r}")
        if isinstance(run, SyntheticGenerator):
            g = run
        else:
            g = SyntheticGenerator.load(run, checkpoint, device, raw)
        labels = g.class_indices(label, n)
        self.images: np.ndarray = g.pixels(n, labels, seed)  # (n, S, S) uint8
        self.targets: list[int] = [0] * n if labels is None else labels.tolist()
        self.classes: list[str] = list(g.classes) or [UNCONDITIONAL_CLASS]
        self.class_to_idx: dict[str, int] = {c: i for i, c in enumerate(self.classes)}
        self.spec, self.checkpoint, self.seed = g.spec, g.checkpoint, seed
        self.transform, self.target_transform, self.output = transform, target_transform, output

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        pixels, target = self.images[index], self.targets[index]
        image: Any
        if self.transform is not None or self.output == "pil":
            image = Image.fromarray(pixels)  # uint8 (S, S): mode "L"
            if self.transform is not None:
                image = self.transform(image)
        else:
            image = from_uint8(torch.from_numpy(pixels)).unsqueeze(0)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        counts = np.bincount(self.targets, minlength=len(self.classes))
        per = ", ".join(f"{c} {k}" for c, k in zip(self.classes, counts, strict=True))
        return f"SyntheticDataset({len(self)} images of {self.spec.resolution} px: {per})"
