"""Data-parallel training across processes launched by torchrun (docs/distributed.md).

torchrun (or `cxrgan train --nproc N`, which runs it) starts one process per device and sets
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `from_env` reads them as nanoGPT
does. Every rank builds the same networks from the same seed, draws the same global batch and
the same global latents and trains on its own slice of both (so a run does not depend on the
world size); rank 0 alone writes the run directory.

Gradients: G and D are each wrapped in DistributedDataParallel (`data_parallel`); the loss
runs every forward but each phase's last in `no_sync()`, so DDP averages that phase's
gradients once, in its last backward (losses/base.py). Batch-norm layers become synchronised
batch norm (`--sync-bn`, the default): statistics over the global batch, as one process has
(SyncBatchNorm2d here, on CPU and CUDA alike: torch's nn.SyncBatchNorm is CUDA-only).
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from cxrgan.errors import CxrganError

TIMEOUT = datetime.timedelta(minutes=60)  # rank 0 evaluating or writing while the others wait


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def from_env() -> World:
    """This process's place in the job, from torchrun's environment (one process: rank 0 of 1)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return World()
    try:
        rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise CxrganError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be integers (they are set by torchrun)"
        ) from None
    return World(rank, size, local)


def init(world: World) -> None:
    """Join the process group: gloo for CPU tensors and, where CUDA and NCCL are, nccl for CUDA
    tensors (one group serves both, so it can be joined before the run's device is known).
    CXRGAN_DIST_BACKEND=gloo|nccl forces one."""
    if not world.distributed or dist.is_initialized():
        return
    if not dist.is_available():
        raise CxrganError("this torch has no torch.distributed: multi-process training needs it")
    cuda = torch.cuda.is_available()
    forced = os.environ.get("CXRGAN_DIST_BACKEND")
    if forced == "nccl" and not cuda:
        raise CxrganError(
            "CXRGAN_DIST_BACKEND=nccl needs CUDA GPUs; on CPU the backend is gloo (unset it)"
        )
    if forced == "nccl" and not dist.is_nccl_available():
        raise CxrganError(_NO_NCCL)
    if forced not in (None, "", "gloo", "nccl"):
        raise CxrganError(f"CXRGAN_DIST_BACKEND={forced}: expected gloo or nccl")
    both = "cpu:gloo,cuda:nccl" if cuda and dist.is_nccl_available() else "gloo"
    backend = forced or both
    if cuda and world.local_rank < torch.cuda.device_count():
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend, rank=world.rank, world_size=world.world_size,
                            timeout=TIMEOUT, store=_attempt_store(world))  # fmt: skip


def _attempt_store(world: World) -> dist.Store | None:
    """After a torchrun restart (--max-restarts), the rendezvous store may still hold the
    previous attempt's addresses, and gloo then dials a dead worker: each attempt gets its own
    key prefix. None (torch's env:// rendezvous) outside torchrun's restarts."""
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT") or 0)
    if attempt == 0 or "MASTER_ADDR" not in os.environ:
        return None
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                          world.world_size, is_master=not agent and world.rank == 0,
                          timeout=TIMEOUT)  # fmt: skip
    return dist.PrefixStore(f"cxrgan/attempt_{attempt}/", store)


_NO_NCCL = (
    "this torch was built without NCCL, which multi-GPU training needs: install a CUDA build "
    "of torch, or train on CPU with gloo (--device cpu)"
)


def rank_device(world: World, device: torch.device) -> torch.device:
    """This rank's device: its own GPU (by LOCAL_RANK) on CUDA, else `device`. Clear errors for
    what cannot work."""
    if device.type == "mps":
        raise CxrganError("multi-process training runs on CUDA or CPU, not MPS: pass --device cpu")
    if device.type != "cuda":
        return device
    if not dist.is_nccl_available():
        raise CxrganError(_NO_NCCL)
    if world.local_rank >= torch.cuda.device_count():
        raise CxrganError(
            f"LOCAL_RANK {world.local_rank} but only {torch.cuda.device_count()} GPU(s) on this "
            "node: --nproc_per_node (or --nproc) must not exceed the GPUs per node"
        )
    return torch.device("cuda", world.local_rank)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


# ------------------------------------------------------------------------------------------------
# Networks


class _AllReduce(torch.autograd.Function):
    """Sum over ranks; its gradient is the sum over ranks of the gradients (differentiable
    again, for R1's double backward)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return _AllReduce.apply(grad)


def all_reduce(x: Tensor) -> Tensor:
    return _AllReduce.apply(x)


class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d over the global batch of all ranks, in plain autograd (differentiable all-
    reduces): it runs on gloo/CPU, where torch's nn.SyncBatchNorm refuses, supports the double
    backward of R1, and synchronises only forwards that train (grad enabled): rank 0's sample
    grids, drawn in training mode under no_grad as the tutorial does, stay on rank 0. Mean
    first, then the centred variance, as batch_norm computes them."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and torch.is_grad_enabled() and active()):
            return super().forward(x)
        dims = [0, 2, 3]
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        sums = all_reduce(torch.cat([x.sum(dims), count]))
        n = sums[-1]
        mean = sums[:-1] / n
        centred = x - mean[None, :, None, None]
        var = all_reduce(centred.square().sum(dims)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum
                if m is None:  # a cumulative average, as BatchNorm with momentum=None
                    m = 1 / int(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                unbiased = var.detach() * n / (n - 1).clamp(min=1)
                self.running_var.mul_(1 - m).add_(unbiased, alpha=m)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def sync_batch_norm(module: nn.Module) -> nn.Module:
    """Every BatchNorm2d of `module` synchronised across ranks, with the same weights and buffers
    (the checkpoint's keys do not change)."""
    if type(module) is nn.BatchNorm2d:
        new = SyncBatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)  # fmt: skip
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        new.running_mean, new.running_var = module.running_mean, module.running_var
        new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, sync_batch_norm(child))
    return module


def data_parallel(module: nn.Module, device: torch.device, find_unused: bool = False) -> nn.Module:
    """`module` in DistributedDataParallel, set up for one of a GAN's two networks:
    - it broadcasts rank 0's weights and buffers once, here; after that buffers are not
      broadcast (stylegan2-ada's `broadcast_buffers=False`): batch statistics are synchronised
      by SyncBatchNorm2d or kept per rank, and rank 0's grids and evaluations, which run the
      unwrapped networks alone, must not wait for the other ranks;
    - gradients are averaged in the backward of each phase's synchronised forward (the loss
      runs the others in `no_sync()`, losses/base.py), once per phase;
    - `find_unused`: a D whose auxiliary-only parameters (FastGAN's decoders) get no gradient
      in R1's pass; DDP then leaves those gradients as they are (None on every rank).
    Without a process group (a test building one rank alone) the module is returned as is."""
    if not active():
        return module
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, **_no_forward_buffer_sync(),
                                   find_unused_parameters=find_unused)  # fmt: skip


def _no_forward_buffer_sync() -> dict[str, bool]:
    """Buffers synced at construction only. torch 2.13 renamed `broadcast_buffers` (now
    deprecated, with a warning on every run) to `forward_sync_buffers`; older torch has only
    the first. Both keep the sync at construction."""
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    name = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    return {name: False}


# ------------------------------------------------------------------------------------------------
# Agreement between ranks


def mean_stats(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Statistics averaged over ranks (every rank logs the same keys in the same order)."""
    if not values or not active():
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return {**values, **dict(zip(keys, t.tolist(), strict=True))}


def max_flags(flags: list[int], device: torch.device) -> list[int]:
    """Elementwise maximum of small integer flags over ranks (a stop asked on any rank)."""
    if not active():
        return flags
    t = torch.tensor(flags, dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [int(v) for v in t.tolist()]


def from_main(value: Any) -> Any:
    """Rank 0's `value` on every rank."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def from_main_checkpoint(checkpoint: Any) -> Any:
    """Rank 0's checkpoint (or None) on every rank, e.g. to roll back together; pickled whole,
    as `hand_over` does, so its tensors travel as bytes on any backend."""
    if not active():
        return checkpoint
    return pickle.loads(from_main(pickle.dumps(checkpoint)))


# ------------------------------------------------------------------------------------------------
# Handing the run from rank 0 to the others

_leading = False


@contextlib.contextmanager
def leading(world: World) -> Iterator[None]:
    """Rank 0 prepares the run (directory, lock, config, checkpoint); an error on the way is
    sent to the other ranks, waiting in `follow`, so they stop with it instead of hanging."""
    global _leading
    _leading = world.distributed and world.rank == 0
    try:
        yield
    except BaseException as exc:
        if _leading:
            _leading = False
            message = str(exc) if isinstance(exc, CxrganError) else f"{type(exc).__name__}: {exc}"
            from_main(("error", message))
        raise
    finally:
        _leading = False


def hand_over(cfg: dict[str, Any], checkpoint: Any) -> None:
    """Rank 0, ready to train: the config and the checkpoint (or None) to every rank."""
    global _leading
    if _leading:
        _leading = False
        from_main(("ok", cfg, pickle.dumps(checkpoint)))


def receive() -> tuple[dict[str, Any], Any]:
    """On ranks other than 0: what rank 0 trains (config dict, checkpoint or None)."""
    message = from_main(None)
    if message[0] == "error":
        raise CxrganError(f"rank 0 stopped before training: {message[1]}")
    return message[1], pickle.loads(message[2])
