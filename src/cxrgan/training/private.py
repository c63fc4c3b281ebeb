"""Differentially private training (--dp-epsilon, docs/privacy.md): D's step on real images
is DP-SGD through Opacus, with an RDP accountant that spends the run's budget.

What is private is the sequence of D's updates. Each D step's gradient is
    (Σ_{i in batch} clip_C(∇ℓ_real(x_i)) + N(0, σ²C²)) / B  +  ∇ℓ_fake(G(z))
The real term is DP-SGD over a Poisson-sampled batch (PoissonSampler, expected size B). The
fake term is computed from D's and G's current weights and fresh latents only, which are
already released (post-processing), so it needs neither clipping nor noise. G never sees
real images: its updates are post-processing of D (Xie et al. 2018, "Differentially Private
Generative Adversarial Network"; Opacus's DCGAN example clips the fake term together with the
real one, which is also private but spends the clip on generated images).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from cxrgan.dp_settings import DP_EXTRA
from cxrgan.errors import CxrganError
from cxrgan.losses.base import GanLoss, StepBatch
from cxrgan.training.callbacks import Callback


def _opacus() -> Any:
    try:
        import opacus
    except ImportError:
        raise CxrganError(
            f"--dp-epsilon needs Opacus: pip install -e '.[{DP_EXTRA}]' from a cxrgan checkout "
            "(or pip install 'opacus>=1.4')"
        ) from None
    return opacus


def dp_compatible(d: nn.Module, model: str) -> nn.Module:
    """D (built with group norm for batch norm: ModelSpec.d_group_norm) with its activations
    out of place, as Opacus's backward hooks need; a one-line error when Opacus still cannot
    compute per-image gradients of it."""
    validators = _opacus().validators
    for module in d.modules():
        if getattr(module, "inplace", False):
            module.inplace = False
    problems = validators.ModuleValidator.validate(d, strict=False)
    if problems:
        raise CxrganError(
            f"--dp-epsilon: Opacus cannot wrap --model {model}'s D: {_first_line(problems[0])}"
        )
    return d


def noise_multiplier(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """DP-SGD's σ that spends (ε, δ) in exactly `steps` steps at `sample_rate`, by Opacus's
    RDP accountant."""
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():  # few steps: the largest order is the tightest
        warnings.filterwarnings("ignore", "Optimal order is the largest alpha")
        return get_noise_multiplier(
            target_epsilon=epsilon,
            target_delta=delta,
            sample_rate=sample_rate,
            steps=steps,
            accountant="rdp",
        )


def _first_line(error: BaseException) -> str:
    """Opacus's complaint (it may raise a list of them) as one line."""
    while error.args and isinstance(error.args[0], list) and error.args[0]:
        error = error.args[0][0]
    return " ".join(str(error).split())


class PrivateD:
    """D's optimiser as DP-SGD, and the accountant of the privacy it has spent."""

    def __init__(self, d: nn.Module, opt_d: torch.optim.Optimizer, cfg: Any, batch_size: int,
                 sample_rate: float, total_steps: int) -> None:  # fmt: skip
        opacus = _opacus()
        self.epsilon_target, self.delta = cfg.dp_epsilon, cfg.dp_delta
        self.sample_rate, self.total_steps = sample_rate, total_steps
        # ADA runs at a fixed p under DP (dp_settings.augment_options): recorded with the rest
        self.ada_p = cfg.dp_ada_p if cfg.augment == "ada" else None
        self.noise = noise_multiplier(cfg.dp_epsilon, cfg.dp_delta, sample_rate, total_steps)
        try:
            self.gsm = opacus.GradSampleModule(d, batch_first=True, loss_reduction="mean")
        except Exception as e:  # Opacus's NotImplementedError / ValueError, in one line
            raise CxrganError(
                f"--dp-epsilon: Opacus cannot wrap --model {cfg.model}'s D: {_first_line(e)}"
            ) from e
        self.gsm.disable_hooks()  # per-image gradients only in the real pass
        self.d = d
        self.opt = opacus.optimizers.DPOptimizer(
            opt_d, noise_multiplier=self.noise, max_grad_norm=cfg.dp_max_grad_norm,
            expected_batch_size=batch_size, loss_reduction="mean",
        )  # fmt: skip
        self.accountant = opacus.accountants.RDPAccountant()
        self._rdp: dict[tuple[float, float], Any] = {}  # one step's RDP at each order

    @property
    def steps(self) -> int:
        return sum(n for _, _, n in self.accountant.history)

    def epsilon(self) -> float:
        """ε spent so far: RDPAccountant.get_privacy_spent's sum over the history, with each
        (σ, q)'s one-step RDP computed once (it costs a good part of a second)."""
        from opacus.accountants.analysis import rdp as analysis

        if not self.accountant.history:
            return 0.0
        orders = self.accountant.DEFAULT_ALPHAS
        total = sum(self._step_rdp(sigma, q, orders) * n for sigma, q, n in self.accountant.history)
        with warnings.catch_warnings():  # few steps: the largest order is the tightest
            warnings.filterwarnings("ignore", "Optimal order is the largest alpha")
            eps, _ = analysis.get_privacy_spent(orders=orders, rdp=total, delta=self.delta)
        return float(eps)

    def _step_rdp(self, sigma: float, q: float, orders: list[float]) -> Any:
        from opacus.accountants.analysis import rdp as analysis

        if (sigma, q) not in self._rdp:
            self._rdp[sigma, q] = analysis.compute_rdp(q=q, noise_multiplier=sigma, steps=1,
                                                       orders=orders)  # fmt: skip
        return self._rdp[sigma, q]

    def exhausted(self) -> bool:
        return self.steps >= self.total_steps

    def d_step(self, loss: GanLoss, batch: StepBatch) -> dict[str, Tensor]:
        """One DP D step (module docstring): the fake term, then the private real term."""
        with warnings.catch_warnings():  # Opacus's hooks on D, whose input needs no gradient
            warnings.filterwarnings("ignore", "Full backward hook is firing")
            return self._d_step(loss, batch)

    def _d_step(self, loss: GanLoss, batch: StepBatch) -> dict[str, Tensor]:
        params = [p for p in self.d.parameters() if p.requires_grad]
        self.opt.zero_grad(set_to_none=True)
        fake_logits = loss.run_D(loss.generated(batch).detach(), batch.c)
        loss_fake = loss.d_fake_loss(fake_logits)
        fake_grads = torch.autograd.grad(loss_fake, params, allow_unused=True)
        stats = {"loss_d_fake": loss_fake.detach(),
                 "d_g_z1": torch.sigmoid(fake_logits.detach()).mean()}  # fmt: skip
        if len(batch.real):
            stats.update(self._real_pass(loss, batch))
            stats["loss_d"] = stats["loss_d_real"] + stats["loss_d_fake"]
        else:  # an empty Poisson batch: the real term is the noise alone (no D(x) to log)
            stats["loss_d"] = stats["loss_d_fake"]
            for p in params:
                p.grad_sample = p.new_zeros((0, *p.shape))
        self.opt.pre_step()  # clip, sum, add noise, divide by the expected batch size
        for p, g in zip(params, fake_grads, strict=True):
            if g is not None:
                p.grad = g if p.grad is None else p.grad + g
        self.opt.original_optimizer.step()
        self.accountant.step(noise_multiplier=self.noise, sample_rate=self.sample_rate)
        self.opt.zero_grad(set_to_none=True)
        return stats

    def _real_pass(self, loss: GanLoss, batch: StepBatch) -> dict[str, Tensor]:
        self.gsm.enable_hooks()
        try:
            real_logits, aux = loss.run_D_real(batch.real, batch.real_c)
            loss_real = loss.d_real_loss(real_logits)
            (loss_real if aux is None else loss_real + aux).backward()
        finally:
            self.gsm.disable_hooks()
        stats = {"loss_d_real": loss_real.detach(),
                 "d_x": torch.sigmoid(real_logits.detach()).mean()}  # fmt: skip
        if aux is not None:
            stats["loss_d_aux"] = aux.detach()
        return stats

    def summary(self) -> dict[str, Any]:
        """What config.json's `stopped` records of the guarantee."""
        return {
            "epsilon": round(self.epsilon(), 6), "target_epsilon": self.epsilon_target,
            "delta": self.delta, "steps": self.steps, "noise_multiplier": self.noise,
            "sample_rate": self.sample_rate, "max_grad_norm": self.opt.max_grad_norm,
            "ada_fixed_p": self.ada_p,
        }  # fmt: skip

    def state(self) -> dict[str, Any]:
        """Plain JSON: the accountant's history and what fixed the noise."""
        return {"history": [list(h) for h in self.accountant.history], "noise": self.noise,
                "total_steps": self.total_steps, "sample_rate": self.sample_rate}  # fmt: skip

    def load_state(self, state: dict[str, Any], epochs: int) -> None:
        """Continue the saved accountant with the saved noise; refuse a longer run than the
        noise was chosen for (it would spend more than --dp-epsilon)."""
        if not state:
            return
        if self.total_steps > state["total_steps"]:
            raise CxrganError(
                f"--epochs {epochs} would take this DP run past its budget: its noise was chosen "
                f"for ε={self.epsilon_target:g} over {state['total_steps']} steps, not "
                f"{self.total_steps}; resume with the epochs it started with or fewer"
            )
        if not math.isclose(self.sample_rate, state["sample_rate"], rel_tol=1e-9):
            raise CxrganError(
                f"this DP run sampled its batches at rate {state['sample_rate']:.6g} and the "
                f"data now gives {self.sample_rate:.6g}: resume it on the images it started with"
            )
        self.noise = float(state["noise"])
        self.total_steps = int(state["total_steps"])
        self.opt.noise_multiplier = self.noise
        self.accountant.history = [tuple(h) for h in state["history"]]


class PrivacyLedger(Callback):
    """Keeps the accountant in checkpoints (as plain JSON) and stops at the budget."""

    main_only = False
    name = "privacy"

    def __init__(self, private: PrivateD) -> None:
        self.private = private

    def state(self) -> dict[str, Any]:
        return self.private.state()

    def load_state(self, t: Any, state: dict[str, Any]) -> None:
        self.private.load_state(state, t.cfg.epochs)
