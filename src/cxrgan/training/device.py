"""Which device a run (or a generator) uses, and whether --precision can work there.

Low in training on purpose: inference, the utility score and the CLI pick a device without
importing the loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from cxrgan.errors import CxrganError

if TYPE_CHECKING:  # annotations only: choosing a device loads no settings
    from cxrgan.config import TrainConfig


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CxrganError("--device cuda requested but this torch has no usable CUDA GPU")
    if name == "mps" and not torch.backends.mps.is_available():
        raise CxrganError("--device mps requested but MPS is not available here")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX; Linux /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision(
    cfg: TrainConfig, device: torch.device
) -> tuple[tuple[str, torch.dtype] | None, dict[str, torch.amp.GradScaler] | None, str | None]:
    """--precision: autocast's (device type, dtype), fp16's gradient scalers per network, and a
    warning to log; clear errors where it cannot work."""
    if cfg.precision == "fp32":
        return None, None, None
    dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
    if device.type == "mps":
        raise CxrganError(f"--precision {cfg.precision} runs on CUDA (bf16 also on CPU), not MPS")
    note = None
    if device.type == "cpu":
        if cfg.precision == "fp16":
            raise CxrganError(
                "--precision fp16 needs a CUDA GPU; on CPU use bf16 (on CPUs with AVX-512 BF16 "
                "or AMX) or fp32"
            )
        if not cpu_has_bf16():
            note = (
                "warning: --precision bf16 on a CPU without AVX-512 BF16 or AMX: bf16 "
                "convolutions are emulated, about 20x slower than fp32 on an AVX2 CPU; use fp32"
            )
    elif cfg.precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise CxrganError("--precision bf16: this GPU has no bf16 (before Ampere); use fp16")
    scalers = None
    if cfg.precision == "fp16":
        scalers = {net: torch.amp.GradScaler(device.type) for net in ("G", "D")}
    return (device.type, dtype), scalers, note
