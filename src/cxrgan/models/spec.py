"""What a pair of networks is: the one description every checkpoint stores and loaders rebuild."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cxrgan.errors import CxrganError


@dataclass(frozen=True)
class ModelSpec:
    """`name` picks a builder from the registry; the rest are its arguments.

    Every builder takes the four shared arguments (latent size, number of classes with 0 for
    unconditional, square resolution, image channels) and its own `kwargs` (widths, ...).
    `classes` names what each class index means (the training folder's class subfolders), so a
    loaded conditional generator can be asked for a class by name; empty when unconditional.
    """

    name: str
    z_dim: int
    resolution: int
    c_dim: int = 0
    channels: int = 1
    kwargs: dict[str, Any] = field(default_factory=dict)
    d_spectral_norm: bool = False  # any architecture: SN on every conv/linear weight of D
    d_group_norm: bool = False  # any architecture: D's batch norms are group norms (DP runs)
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        if self.classes and len(self.classes) != self.c_dim:
            raise CxrganError(
                f"model spec names {len(self.classes)} classes but has c_dim {self.c_dim}"
            )

    def class_index(self, name: str) -> int:
        """The class index of `name`; a clear error listing the classes otherwise."""
        if not self.c_dim:
            raise CxrganError(f"model {self.name} is unconditional: it has no class {name!r}")
        if name not in self.classes:
            raise CxrganError(f"no class {name!r}; this generator draws {', '.join(self.classes)}")
        return self.classes.index(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the class names as a list); d_group_norm only where set, so a
        run without DP stores the spec it always did."""
        data = {**asdict(self), "classes": list(self.classes)}
        if not self.d_group_norm:
            del data["d_group_norm"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        try:
            return cls(**{**data, "kwargs": dict(data.get("kwargs") or {})})
        except TypeError as exc:
            raise CxrganError(f"not a valid model spec {data!r}: {exc}") from None

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.kwargs.items())
        classes = f" {self.c_dim} classes" if self.c_dim else ""
        sn = " D+SN" if self.d_spectral_norm else ""
        sn += " D+GN" if self.d_group_norm else ""
        return f"{self.name} {self.resolution}px z={self.z_dim}{classes}{sn} {extra}".rstrip()
