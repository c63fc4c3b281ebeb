"""Run by test_distributed.py under torchrun (2 ranks, gloo): two training steps of a lightweight
GAN with R1, counting DDP's gradient reductions per loss phase and network. Rank 0 prints them
as one JSON line."""

from __future__ import annotations

import gc
import json

from ddp_phases import rank_trainer, two_marked_steps
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

from cxrgan.training import distributed as ddp


def main() -> None:
    world = ddp.from_env()
    ddp.init(world)
    try:
        count_reductions(world)
    finally:
        # As `cxrgan train` does: the DDP-wrapped networks are gone before the process group
        # (destroying the group under live DDP reducers can abort the process at exit).
        gc.collect()
        ddp.shutdown()


def count_reductions(world: ddp.World) -> None:
    t = rank_trainer(world)
    now = {"phase": ""}
    reduced: dict[str, int] = {}  # "step/phase/net" -> gradient elements all-reduced

    def counting(net: str):
        def hook(state, bucket):  # no annotations: DDP checks them against the real classes
            key = f"{now['step']}/{now['phase']}/{net}"
            reduced[key] = reduced.get(key, 0) + bucket.buffer().numel()
            return default_hooks.allreduce_hook(None, bucket)

        return hook

    t.loss.G.register_comm_hook(None, counting("G"))
    t.loss.D.register_comm_hook(None, counting("D"))
    two_marked_steps(t, now)
    if world.rank == 0:
        sizes = {net: sum(p.numel() for p in m.parameters() if p.requires_grad)
                 for net, m in (("G", t.state.g), ("D", t.state.d))}  # fmt: skip
        print(json.dumps({"reduced": reduced, "sizes": sizes, "wrapped": type(t.loss.D).__name__}))


if __name__ == "__main__":
    main()
