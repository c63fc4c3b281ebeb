"""What happens around the step: logs, grids, plots, checkpoints, quality, hints and report.

Each is a Callback with hooks the loop calls. Callbacks write the run directory, so only the
main process runs them (`main_only`); a callback that changes training itself (the balance
controller) runs on every rank so that all ranks stay identical. A callback with `name` keeps
JSON state in every checkpoint under that name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from cxrgan.data.pixels import to_uint8
from cxrgan.reporting.plots import (
    class_grid,
    make_grid,
    plot_losses,
    plot_quality,
    save_png_atomic,
)
from cxrgan.training.balance import BalanceController
from cxrgan.training.quality import QualityTracker

if TYPE_CHECKING:
    from cxrgan.training.trainer import Trainer

LOSS_SCALARS = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "lr_g", "lr_d", "images_per_s")


class Callback:
    main_only = True
    name: str | None = None  # key of its state in checkpoints

    def on_log(self, t: Trainer, record: dict[str, Any]) -> None: ...

    def on_step_end(self, t: Trainer) -> None: ...

    def on_epoch_end(self, t: Trainer, means: dict[str, float]) -> None: ...

    def on_eval(self, t: Trainer, record: dict[str, Any]) -> None:
        """An evaluation's record (FWD, KID, per class), as metrics.jsonl holds it."""

    def on_stop(self, t: Trainer, reason: str) -> None:
        """Training stopped part-way through an epoch: interrupted, diverged or early stop."""

    def on_close(self, t: Trainer) -> None: ...

    def state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, t: Trainer, state: dict[str, Any]) -> None: ...


class MetricsLog(Callback):
    """Every log record into metrics.jsonl (the trackers take them from there: training.track)."""

    def on_log(self, t: Trainer, record: dict[str, Any]) -> None:
        t.run.append_metrics(record)
        t.records.append(record)


class Balance(Callback):
    """`--balance auto`: adapt G's learning rate from the logged D outputs (every rank)."""

    main_only = False
    name = "balance"

    def __init__(self, base_lr_g: float):
        self.controller = BalanceController(base_lr_g)
        self.resumed = False

    def on_log(self, t: Trainer, record: dict[str, Any]) -> None:
        lr_g, lr_d = t.state.rates()
        change = self.controller.update(record, lr_g)
        if change is None:
            return
        lr_g, reason = change
        t.state.set_rates(lr_g, lr_d)
        if t.run is None:
            return
        c = t.state.counters
        t.run.append_metrics(
            {
                "step": c.step,
                "epoch": c.epoch + 1,
                "event": "balance",
                "lr_g": lr_g,
                "lr_d": lr_d,
                "reason": reason,
            }
        )
        t.run.log(f"balance: lr_G → {lr_g:.3g} at step {c.step}: {reason}", echo=False)

    def state(self) -> dict[str, Any]:
        return self.controller.state()

    def load_state(self, t: Trainer, state: dict[str, Any]) -> None:
        # A resume that changes --g-lr starts balancing afresh from the new rate.
        if state and state["base_lr_g"] == self.controller.base_lr_g:
            self.controller = BalanceController(**state)
            self.resumed = True


class GradScalers(Callback):
    """--precision fp16: the gradient scalers of G and D, kept in checkpoints, on every rank."""

    main_only = False
    name = "grad_scaler"

    def __init__(self, scalers: dict[str, torch.amp.GradScaler]):
        self.scalers = scalers

    def state(self) -> dict[str, Any]:
        return {net: scaler.state_dict() for net, scaler in self.scalers.items()}

    def load_state(self, t: Trainer, state: dict[str, Any]) -> None:
        for net, saved in state.items():
            if net in self.scalers and saved:
                self.scalers[net].load_state_dict(saved)


class SampleGrids(Callback):
    """The fixed latents through the sampling generator after every epoch, drawn as `generate`
    draws (eval mode on standing statistics, shared with that step's checkpoint and evaluation)."""

    def on_epoch_end(self, t: Trainer, means: dict[str, float]) -> None:
        s = t.state
        with torch.no_grad():
            samples = to_uint8(t.standing_generator()(s.fixed_z, s.fixed_c))
        if s.fixed_c is None:
            grid = make_grid(samples)
        else:  # one labelled band per class
            grid = class_grid(samples, s.fixed_c.tolist(), s.spec.classes)
        save_png_atomic(Image.fromarray(grid), t.run.sample_grid(s.counters.epoch))


class LossPlot(Callback):
    def on_epoch_end(self, t: Trainer, means: dict[str, float]) -> None:
        plot_losses(t.records, t.run.plots / "losses.png")


class Quality(Callback):
    """FWD/KID every `--eval-every` epochs or steps; keeps `best`; decides on early stopping."""

    name = "quality"

    def __init__(self, tracker: QualityTracker, every: int, unit: str):
        self.tracker, self.every, self.unit = tracker, every, unit

    def on_step_end(self, t: Trainer) -> None:
        by_step = self.unit == "step" and t.state.counters.step % self.every == 0
        if by_step or (self.unit == "minutes" and self._mark_passed(t)):
            self._evaluate(t)

    def on_epoch_end(self, t: Trainer, means: dict[str, float]) -> None:
        if self.unit == "epoch" and t.state.counters.epoch % self.every == 0:
            self._evaluate(t)

    def on_stop(self, t: Trainer, reason: str) -> None:
        """A --minutes budget ends on a mark (30 minutes, every 5): evaluate it too."""
        if self.unit == "minutes" and reason.startswith("budget") and self._mark_passed(t):
            self._evaluate(t)

    def _mark_passed(self, t: Trainer) -> bool:
        """Whether training time has reached the next multiple of `every` minutes since the
        last evaluation (or since 0)."""
        last = self.tracker.records[-1].get("elapsed_s", 0.0) if self.tracker.records else 0.0
        mark = (int(last / 60 / self.every + 1e-9) + 1) * self.every * 60
        return _training_time(t) >= mark - 1e-6

    def _evaluate(self, t: Trainer) -> None:
        c = t.state.counters
        epoch = c.epoch + (c.step_in_epoch > 0)
        record, is_best = self.tracker.evaluate(
            t.standing_generator(), t.device, c.step, epoch, _training_time(t)
        )
        t.run.append_metrics(record)
        plot_quality(self.tracker.records, t.run.plots / "quality.png")
        if is_best:
            t.save("best")
        classes = record.get("per_class") or {}
        t.emit("on_eval", record)
        spread = "" if record.get("kid_std") is None else f" ± {record['kid_std']:.2g}"
        per_class = "".join(f"  {name} {scores['fwd']:.4g}" for name, scores in classes.items())
        t.run.log(
            f"quality at step {c.step}: FWD {record['fwd']:.4g}{self.floor_text(record)}  "
            f"KID {record['kid_mean']:.4g}{spread}{'  (best so far)' if is_best else ''}  "
            f"[{record['eval_s']:.1f}s]" + (f"\n  FWD per class:{per_class}" if per_class else "")
        )
        reason = self.tracker.stop_reason()
        if reason:
            t.request_stop(reason)
            t.run.log(reason.replace("early_stop: ", "early stop: "))

    def state(self) -> dict[str, Any]:
        return self.tracker.state()

    def load_state(self, t: Trainer, state: dict[str, Any]) -> None:
        self.tracker.load_state(state or {}, t.eval_records)

    @staticmethod
    def floor_text(record: dict[str, Any]) -> str:
        """' (real-vs-real floor 0.0041 at n=2000, ×26)': how far FWD is from the floor."""
        floor, fwd = record.get("fwd_floor"), record.get("fwd")
        if not isinstance(floor, float | int) or floor <= 0 or not isinstance(fwd, float | int):
            return ""
        n = record.get("fwd_floor_n")
        return f" (real-vs-real floor {floor:.2g} at n={n}, ×{fwd / floor:.3g})"


def _training_time(t: Trainer) -> float:
    """Training time so far, as the loop last counted it (agreed across ranks)."""
    return t.state.counters.elapsed_s if t.spent_s is None else t.spent_s


class Checkpoints(Callback):
    """`last` after every epoch and at any stop but divergence; `epoch_NNNN` every K epochs,
    written before `last`: a kill between the two leaves `last` an epoch behind, and the resume
    from it trains that epoch again and writes the same `epoch_NNNN`, so none is lost."""

    def __init__(self, every: int):
        self.every = every

    def on_epoch_end(self, t: Trainer, means: dict[str, float]) -> None:
        epoch = t.state.counters.epoch
        if self.every and epoch % self.every == 0:
            t.save(f"epoch_{epoch:04d}")
        t.save("last")

    def on_stop(self, t: Trainer, reason: str) -> None:
        # After divergence, `last` stays the last finite state to resume from.
        if not reason.startswith("diverged"):
            t.save("last")
        if reason == "interrupted":
            by = f" by {t.stop_signal}" if t.stop_signal else ""
            t.run.log(
                f"interrupted{by} at step {t.state.counters.step}; saved checkpoints/last "
                f"(continue with: cxrgan train --resume {t.run.root})"
            )


class EpochSummary(Callback):
    def on_epoch_end(self, t: Trainer, m: dict[str, float]) -> None:
        c = t.state.counters
        t.run.log(
            f"[epoch {c.epoch}/{t.cfg.epochs}] step {c.step}  Loss_D {m['loss_d']:.4f}  "
            f"Loss_G {m['loss_g']:.4f}  D(x) {m['d_x']:.4f}  D(G(z)) {m['d_g_z1']:.4f} / "
            f"{m['d_g_z2']:.4f}  elapsed {c.elapsed_s:.1f}s"
            + (f"  ε {t.private.epsilon():.3f}" if t.private is not None else "")
        )


class HintAndReport(Callback):
    """A one-line diagnosis after each epoch (and on divergence), and the HTML report."""

    def on_epoch_end(self, t: Trainer, means: dict[str, float]) -> None:
        self._write(t)

    def on_stop(self, t: Trainer, reason: str) -> None:
        if reason.startswith("diverged"):
            self._write(t)

    def _write(self, t: Trainer) -> None:
        # deferred: diagnosis and the report pull in the whole reporting stack
        from cxrgan.reporting.diagnose import diagnose_run
        from cxrgan.reporting.html_report import write_report

        t.run.log(diagnose_run(t.run.root).hint())
        write_report(t.run.root)
