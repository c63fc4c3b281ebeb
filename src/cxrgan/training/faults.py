"""What stops or rescues a run mid-epoch: signals (and the stop every rank agrees on), NaN/inf
in the logged statistics or the weights, and --on-nan rollback to checkpoints/last."""

from __future__ import annotations

import math
import signal
import time
from typing import TYPE_CHECKING, Any

import torch

from cxrgan.config import MAX_ROLLBACKS
from cxrgan.errors import CxrganError
from cxrgan.training import distributed as ddp
from cxrgan.training.checkpoint import Checkpoint, load_checkpoint, saved_counters
from cxrgan.training.state import TrainState

if TYPE_CHECKING:
    from cxrgan.training.trainer import Trainer

REPEAT_S = 2.0  # multi-process: a second stop signal within this many seconds is the same stop
# Logged statistics that must stay finite; anything else means the run diverged.
GUARDED = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")


class StopFlag:
    """The first Ctrl-C (SIGINT) or SIGTERM (kill, a scheduler's preemption) asks the loop to
    stop after the current step; a second Ctrl-C aborts. A preemption reads as one: further
    signals after a SIGTERM are ignored, and so is every signal once the stop is being saved
    and recorded (`settle`), so `last` and config.json's `stopped` are always written."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, distributed: bool = False) -> None:
        self.requested = False  # the loop stops after this step (on every rank, when several)
        self.signal: str | None = None  # the name of the signal that asked
        self._previous: dict[int, Any] = {}
        # Multi-process: a signal only marks this rank as asking (`asked`); `agree` makes the
        # stop every rank's at the same step. The same stop may arrive twice within moments
        # (Ctrl-C reaches every process of the terminal and torchrun forwards it too): only a
        # later one aborts.
        self.distributed = distributed
        self.asked = False
        self._at = 0.0
        self.settling = False  # the loop has ended: its stop is being saved and recorded

    def __enter__(self) -> StopFlag:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def settle(self) -> None:
        """From now on no signal aborts: the stop is being saved and recorded."""
        self.settling = True

    def _handle(self, signum: int, frame: Any) -> None:
        if self.settling or (self.asked and self.signal == "SIGTERM"):
            return  # the stop under way is the one that counts
        if self.asked:
            if self.distributed and time.monotonic() - self._at < REPEAT_S:
                return
            raise KeyboardInterrupt
        self.asked, self._at = True, time.monotonic()
        self.signal = signal.Signals(signum).name
        if not self.distributed:
            self.requested = True

    CODES = (None, "SIGINT", "SIGTERM")

    def agree(self, t: Trainer, spent_s: float, budget_s: float) -> tuple[bool, float]:
        """Multi-process: a stop asked on any rank (and by which signal) holds on every rank from
        this step, as does a time budget spent on any. Returns whether the budget is spent, and
        the training time as the slowest rank counts it (to the millisecond), so that every rank
        reads the same --lr-schedule factor."""
        if not self.distributed:
            return spent_s >= budget_s, spent_s
        mine = self.CODES.index(self.signal) if self.asked else 0
        code, out, spent_ms = ddp.max_flags(
            [mine, int(spent_s >= budget_s), round(spent_s * 1000)], t.device
        )
        if code:
            if not self.asked:
                self.asked, self._at = True, time.monotonic()
            self.requested, self.signal = True, self.CODES[code]
        return bool(out), spent_ms / 1000


def agree_stop(t: Trainer) -> None:
    """Multi-process: a stop decided on rank 0 (early stopping, its callbacks) holds on all."""
    if t.world_size > 1 and ddp.max_flags([int(t.stop_reason is not None)], t.device)[0]:
        t.stop_reason = ddp.from_main(t.stop_reason) or t.stop_reason


# ------------------------------------------------------------------------------------------------
# Divergence


def non_finite_weights(s: TrainState) -> str | None:
    """The first tensor of G, D or G_ema (weights and buffers) holding NaN or inf, by name."""
    nets = {"G": s.g, "D": s.d, "G_ema": s.g_ema}
    named = [
        (f"{prefix}.{name}", tensor)
        for prefix, net in nets.items()
        if net is not None
        for name, tensor in net.state_dict().items()
        if tensor.is_floating_point()
    ]
    if not named:
        return None
    finite = torch.stack([torch.isfinite(tensor).all() for _, tensor in named])
    if bool(finite.all()):  # one device sync for all tensors
        return None
    return named[int((~finite).nonzero()[0])][0]


def divergence(t: Trainer, record: dict[str, Any], weights: bool) -> str | None:
    """Why the run diverged at this log record, else None, the same on every rank: a NaN/inf
    statistic, or with `weights` (before the checkpoint that ends an epoch or a stop) a NaN/inf
    weight. Weights that turn NaN mid-epoch show as NaN losses at the next step, so the records
    show it too."""
    problem = _non_finite(t, record, weights)
    if t.world_size > 1 and ddp.max_flags([int(problem is not None)], t.device)[0]:
        step = t.state.counters.step
        problem = ddp.from_main(problem) or problem or f"non-finite at step {step}"
    return problem


def _non_finite(t: Trainer, record: dict[str, Any], weights: bool) -> str | None:
    step = t.state.counters.step
    bad = [k for k in GUARDED if k in record and not math.isfinite(record[k])]
    if bad:
        return f"non-finite loss at step {step}"
    weight = non_finite_weights(t.state) if weights else None
    if weight is not None:
        return f"non-finite weights at step {step} ({weight})"
    return None


def roll_back_or_stop(t: Trainer, why: str) -> None:
    """Roll back (--on-nan rollback, while rollbacks remain) or stop with the reason."""
    if _rollback(t, why):
        return
    c = t.state.counters
    tried = f" after {t.rollbacks} rollback(s)" if t.rollbacks else ""
    t.stop_reason = f"diverged: {why}{tried}"
    if t.run is not None:
        saved = saved_counters(t.run.checkpoint("last"))
        lower = 2 ** (t.rollbacks + 1)  # below the rates the rollbacks already tried
        kept = (
            f"checkpoints/last keeps step {saved['step']} (epoch {saved['epoch']}), the last "
            f"finite state: resume from it with lower learning rates, e.g. --resume "
            f"{t.run.root} --g-lr {t.cfg.g_lr / lower:.3g} --d-lr {t.cfg.d_lr / lower:.3g}"
            if saved
            else "no checkpoint was written"
        )
        t.run.log(f"warning: {t.stop_reason} (now at step {c.step}); stopping. {kept}")


def _rollback(t: Trainer, why: str) -> bool:
    """--on-nan rollback: reload checkpoints/last (never written with NaN/inf weights), halve
    both learning rates and train on; False when the policy is stop, the rollbacks are used up
    or there is no finite checkpoint. Each rollback is an event record in metrics.jsonl. With
    several processes every rank reloads rank 0's checkpoint at the same step (they all see
    the divergence together), so they stay in step."""
    if t.cfg.on_nan != "rollback" or t.rollbacks >= MAX_ROLLBACKS:
        return False
    ckpt = _finite_last(t) if t.master_process else None
    if t.world_size > 1:
        ckpt = ddp.from_main_checkpoint(ckpt)
    if ckpt is None:
        return False
    s, diverged_at = t.state, t.state.counters.step
    lr_g, lr_d = (lr / 2 for lr in s.rates())
    elapsed = s.counters.elapsed_s  # training time spent is spent, rolled back or not
    s.load_state_dict(ckpt)
    c = s.counters
    c.elapsed_s = elapsed
    t.rollbacks += 1
    # What comes after the restored step is trained again: one record per step.
    t.records = [r for r in t.records if r.get("step", 0) <= c.step]
    t.eval_records = [r for r in t.eval_records if r.get("step", 0) <= c.step]
    t.load_callback_states()
    s.set_rates(lr_g, lr_d)
    if t.run is None:  # ranks other than 0 write nothing
        return True
    t.run.truncate_metrics(c.step)
    t.run.append_metrics({"step": c.step, "epoch": c.epoch + 1, "event": "rollback",
                          "diverged_step": diverged_at, "reason": why, "lr_g": lr_g,
                          "lr_d": lr_d, "rollback": t.rollbacks,
                          "max_rollbacks": MAX_ROLLBACKS})  # fmt: skip
    t.run.log(
        f"warning: {why}; rolled back to checkpoints/last (step {c.step}) with both learning "
        f"rates halved (lr_G {lr_g:.3g}, lr_D {lr_d:.3g}); rollback {t.rollbacks} of "
        f"{MAX_ROLLBACKS} (--on-nan stop ends the run instead)"
    )
    return True


def _finite_last(t: Trainer) -> Checkpoint | None:
    """checkpoints/last, when it loads and holds finite weights (rank 0)."""
    try:
        ckpt = load_checkpoint(t.run.checkpoint("last"))
    except CxrganError as exc:
        t.run.log(f"warning: cannot roll back: {exc}")
        return None
    return ckpt if ckpt.non_finite("G", "D", "G_ema") is None else None
