"""Run by test_distributed.py under torchrun (1 or 2 ranks, gloo): two training steps of a
lightweight GAN with R1, recording every gradient each optimiser steps with, as DDP left it
(all-reduced over the ranks). Rank 0 saves them to the path given as the only argument, keyed
"step/phase/net/parameter", for the test to compare between 1 and 2 processes.

The optimisers are plain SGD: Adam's first step moves a weight by ±lr whatever its gradient,
so rounding-level differences (a few gradients are ~1e-10) would become visible differences in
the weights that every later phase's gradients are computed at."""

from __future__ import annotations

import gc
import sys

import torch
from ddp_phases import rank_trainer, two_marked_steps

from cxrgan.training import distributed as ddp


def main() -> None:
    world = ddp.from_env()
    ddp.init(world)
    try:
        grads = record_gradients(world)
        if world.rank == 0:
            torch.save(grads, sys.argv[1])
    finally:
        gc.collect()  # the DDP-wrapped networks go before the process group (see cxrgan train)
        ddp.shutdown()


def record_gradients(world: ddp.World) -> dict[str, torch.Tensor]:
    t = rank_trainer(world)
    sgd = {net: torch.optim.SGD(m.parameters(), lr=t.cfg.g_lr) for net, m in (("G", t.state.g),
                                                                             ("D", t.state.d))}
    for bound in t.phases:
        bound.opt = sgd[bound.phase.net]
    now = {"step": 0, "phase": ""}
    grads: dict[str, torch.Tensor] = {}

    def recording(net: str, module: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        step = opt.step

        def wrapped(*args, **kwargs):
            for name, p in module.named_parameters():
                if p.grad is not None:
                    grads[f"{now['step']}/{now['phase']}/{net}/{name}"] = p.grad.detach().clone()
            return step(*args, **kwargs)

        opt.step = wrapped

    recording("G", t.state.g, sgd["G"])
    recording("D", t.state.d, sgd["D"])
    two_marked_steps(t, now)
    return grads


if __name__ == "__main__":
    main()
