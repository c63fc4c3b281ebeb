"""Data-parallel training (issue 11): 2 processes under torchrun with gloo on CPU, tiny settings.

`cxrgan train --nproc 2` runs torchrun (`python -m torch.distributed.run --standalone`, through
cxrgan.cli.torchrun) itself, so each test here launches torchrun as a user would
(docs/distributed.md's single-node command).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
from processes import rank_pid
from run_files import config as _config
from run_files import records as _records
from run_files import train_steps as _train_steps
from run_files import wait_for_steps
from safetensors.torch import load_file
from tiny import TINY_ARGS, TINY_CONFIG

from cxrgan.cli.main import main
from cxrgan.config import MAX_ROLLBACKS
from cxrgan.errors import CxrganError
from cxrgan.training import distributed as ddp
from cxrgan.training.checkpoint import load_checkpoint
from cxrgan.training.rundir import EXIT_DIVERGED, EXIT_SIGTERM

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="needs torch.distributed with gloo",
)

TINY = [*TINY_ARGS, "--no-cache", "--demo-images", "64", "--log-every", "1"]


def _cmd(*args: str, nproc: int | None = None) -> list[str]:
    extra = ["--nproc", str(nproc)] if nproc else []
    return [sys.executable, "-m", "cxrgan", "train", *TINY, *args, *extra]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def _train(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(*args, nproc=nproc), capture_output=True, text=True,
                          timeout=300, env=_env())  # fmt: skip


def _nets(run: Path) -> dict[str, torch.Tensor]:
    tensors = load_file(str(run / "checkpoints" / "last.safetensors"))
    return {k: v for k, v in tensors.items() if k.startswith(("G.", "D."))}


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_two_processes_write_one_consistent_run_directory(tmp_path):
    single, run = tmp_path / "single", tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--steps-per-epoch", "3", "--out",
                 str(single)]) == 0  # fmt: skip
    done = _train("--epochs", "2", "--steps-per-epoch", "3", "--out", str(run))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "single"]  # nothing else
    assert _files(run) == _files(single)  # the same files as one process writes
    assert _train_steps(run) == [1, 2, 3, 4, 5, 6]  # one record per step, from rank 0 only
    info = _config(run)
    assert info["history"][0]["processes"] == 2
    assert info["stopped"]["reason"] == "completed" and info["stopped"]["step"] == 6
    log = (run / "train.log").read_text()
    assert log.count("run directory:") == 1 and "training with 2 processes" in log
    ckpt = load_checkpoint(run / "checkpoints" / "last.safetensors")
    assert ckpt.meta["state"]["counters"]["step"] == 6
    # Statistics are averaged over the ranks: they match one process on the same batches.
    for a, b in zip(_records(single), _records(run), strict=True):
        assert a["loss_d"] == pytest.approx(b["loss_d"], abs=1e-5)


LIGHTWEIGHT_R1 = ["--model", "lightweight", "--image-size", "64", "--loss", "hinge",
                  "--r1-gamma", "1"]  # fmt: skip
AUGMENTED = ["--augment", "diff", "--steps-per-epoch", "2"]


@pytest.mark.parametrize("extra", [[], AUGMENTED, LIGHTWEIGHT_R1],
                         ids=["plain", "augmented", "lightweight-r1"])  # fmt: skip
def test_b_sync_bn_two_ranks_of_32_equal_one_process_of_64(tmp_path, extra):
    """Same 64 images, same latents (every rank draws the global batch's and keeps its slice),
    batch norm over the global batch: one step gives the same G and D, weights and buffers.
    Augmented: every rank draws the global batch's transforms and applies its slice, so two
    steps (the second after the RNG has moved on) match too. Lightweight with R1: the step
    runs the lazy R1 phase too, in which FastGAN's decoders get no gradient (DDP's unused
    parameters); the decoders still match one process. (Its G has a few weights whose first
    gradients are ~1e-10: Adam's first step moves a weight by ±lr whatever the size of its
    gradient, so rounding flips the sign of those few, which then differ by 2·lr. Over more
    steps the flips grow, with the explicit all-reduce of earlier versions too; the phase
    reductions of step 1 are test_ddp_reduces_each_phase_s_gradients_once_including_lazy_r1's.)"""
    args = ["--batch-size", "64", "--epochs", "1", "--steps-per-epoch", "1", *extra]
    assert main(["train", *TINY, *args, "--out", str(tmp_path / "one")]) == 0
    done = _train(*args, "--out", str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr
    assert "each draws 32 of every batch of 64" in (tmp_path / "two" / "train.log").read_text()
    one, two = _nets(tmp_path / "one"), _nets(tmp_path / "two")
    assert one.keys() == two.keys() and any("running_mean" in k for k in one)
    flips = sum(int(((two[k] - one[k]).abs() > 1e-5).sum()) for k in one)
    assert flips <= (0.005 * sum(v.numel() for v in one.values()) if extra is LIGHTWEIGHT_R1 else 0)
    bound = 2 * 2e-4 + 1e-5 if extra is LIGHTWEIGHT_R1 else 1e-5  # both rates 2e-4
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=bound, rtol=0, msg=key)


def test_ddp_reduces_each_phase_s_gradients_once_including_lazy_r1():
    """G and D are in DistributedDataParallel, and each phase's gradients are all-reduced exactly
    once, for the network it trains only: D in Dmain and in the lazy R1 phase (step 0 only,
    decoders unused there), G in Gmain; never D while G trains, never G in D's phases."""
    script = Path(__file__).with_name("ddp_reductions.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["wrapped"] == "DistributedDataParallel"
    g, d = out["sizes"]["G"], out["sizes"]["D"]
    assert out["reduced"] == {"0/Dmain/D": d, "0/Dreg/D": d, "0/Gmain/G": g,
                              "1/Dmain/D": d, "1/Gmain/G": g}  # fmt: skip


def test_ddp_gradients_are_the_mean_over_ranks_equal_to_one_process(tmp_path):
    """The gradient each optimiser steps with, for every phase of two steps (lazy R1 included),
    is the same under 2 processes as under 1: DDP averages the ranks' half-batch gradients. A
    sum instead of the mean, or a stray factor of the world size, doubles it. (Comparing the
    weights after Adam steps cannot tell: Adam's step barely depends on the gradient's scale.)"""
    script = Path(__file__).with_name("ddp_gradients.py")
    grads = {}
    for n in (1, 2):
        out = tmp_path / f"grads{n}.pt"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               str(n), str(script), str(out)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env())
        assert done.returncode == 0, done.stderr
        grads[n] = torch.load(out)
    one, two = grads[1], grads[2]
    assert one.keys() == two.keys()
    phases = sorted({k.rsplit("/", 1)[0] for k in one})
    assert phases == ["0/Dmain/D", "0/Dreg/D", "0/Gmain/G", "1/Dmain/D", "1/Gmain/G"]
    for phase in phases:
        keys = [k for k in one if k.startswith(f"{phase}/")]
        a = torch.cat([one[k].flatten() for k in keys]).double()
        b = torch.cat([two[k].flatten() for k in keys]).double()
        # Measured: 2 processes differ from 1 by 4e-6 to 2e-5 of the gradient's norm (float32).
        assert float(b.norm() / a.norm()) == pytest.approx(1.0, abs=1e-4), phase
        assert float((b - a).norm() / a.norm()) < 1e-4, phase


def test_c_resume_one_two_one_processes_continues_without_gaps(tmp_path):
    straight, run = tmp_path / "straight", tmp_path / "run"
    args = ["--steps-per-epoch", "3"]
    assert main(["train", *TINY, *args, "--epochs", "3", "--out", str(straight)]) == 0
    assert main(["train", *TINY, *args, "--epochs", "1", "--out", str(run)]) == 0
    done = _train("--resume", str(run), "--epochs", "2")
    assert done.returncode == 0, done.stderr
    assert main(["train", "--resume", str(run), "--epochs", "3", "--nproc", "1"]) == 0

    assert _train_steps(run) == list(range(1, 10))  # no gaps, no duplicates
    assert [r["epoch"] for r in _records(run) if "loss_d" in r] == [1] * 3 + [2] * 3 + [3] * 3
    info = _config(run)
    assert [h["event"] for h in info["history"]] == ["start", "resume", "resume"]
    assert [h.get("processes", 1) for h in info["history"]] == [1, 2, 1]
    assert [h["step"] for h in info["history"]] == [0, 3, 6]
    assert info["stopped"]["step"] == 9
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "epoch_0001.png", "epoch_0002.png", "epoch_0003.png", "real.png"]  # fmt: skip
    # The data and the latents do not depend on the world size: the same run as one process.
    a, b = _nets(straight), _nets(run)
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-4, rtol=1e-4, msg=key)
    for x, y in zip(_records(straight), _records(run), strict=True):
        assert x["loss_g"] == pytest.approx(y["loss_g"], abs=1e-4)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds workers in /proc")
def test_d_sigterm_to_one_rank_stops_every_rank_with_last_saved(tmp_path):
    run, marker = tmp_path / "run", uuid.uuid4().hex
    proc = subprocess.Popen(
        _cmd("--epochs", "1", "--steps-per-epoch", "100000", "--out", str(run), nproc=2),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(CXRGAN_TEST=marker),
    )  # fmt: skip
    wait_for_steps(run, proc, 2)
    os.kill(rank_pid(marker, 1), signal.SIGTERM)  # rank 1 only: a preempted or killed worker
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_SIGTERM, err
    stopped = _config(run)["stopped"]
    assert stopped["reason"] == "interrupted" and stopped["signal"] == "SIGTERM"
    ckpt = load_checkpoint(run / "checkpoints" / "last.safetensors")
    assert ckpt.meta["state"]["counters"]["step"] == stopped["step"] >= 3
    assert ckpt.non_finite("G", "D") is None
    assert _train_steps(run) == list(range(1, stopped["step"] + 1))


def test_ctrl_c_to_nproc_stops_every_rank_with_last_saved(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        _cmd("--epochs", "1", "--steps-per-epoch", "100000", "--out", str(run), nproc=2),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    wait_for_steps(run, proc, 2)
    proc.send_signal(signal.SIGINT)  # to `cxrgan train --nproc 2`, which passes it to torchrun
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    stopped = _config(run)["stopped"]
    assert stopped["signal"] == "SIGINT"
    ckpt = load_checkpoint(run / "checkpoints" / "last.safetensors")
    assert ckpt.meta["state"]["counters"]["step"] == stopped["step"] >= 3


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds workers in /proc")
def test_torchrun_max_restarts_restarts_a_killed_worker_from_last(tmp_path):
    """torchrun --max-restarts restarts the workers with the same command: cxrgan sees
    TORCHELASTIC_RESTART_COUNT and resumes --out from checkpoints/last."""
    run, marker = tmp_path / "run", uuid.uuid4().hex
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "--max-restarts=1", "-m", "cxrgan", "train", *TINY, "--epochs", "1",
           "--steps-per-epoch", "30", "--out", str(run)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(CXRGAN_TEST=marker))  # fmt: skip
    wait_for_steps(run, proc, 2)
    os.kill(rank_pid(marker, 1), signal.SIGKILL)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    assert _train_steps(run) == list(range(1, 31))  # trained again from last, no duplicates
    info = _config(run)
    assert [h["event"] for h in info["history"]] == ["start", "resume"]
    assert info["stopped"]["reason"] == "completed" and info["stopped"]["step"] == 30


# ------------------------------------------------------------------------------------------------
# Mistakes, in one process


def test_nan_rolls_back_on_every_rank_together(tmp_path):
    """G's rate 1e30: every step diverges; each time, all ranks reload rank 0's `last` and halve
    their rates together (a rank that did not would hang the next all-reduce), until the
    rollbacks are used up and every rank stops with the run's exit status."""
    run = tmp_path / "run"
    done = _train("--epochs", "1", "--steps-per-epoch", "4", "--g-lr", "1e30", "--out", str(run))
    assert done.returncode == EXIT_DIVERGED, done.stderr
    events = [r for r in _records(run) if r.get("event") == "rollback"]
    assert [e["rollback"] for e in events] == list(range(1, MAX_ROLLBACKS + 1))
    assert all(e["step"] == 0 for e in events)
    assert _config(run)["stopped"]["reason"].endswith(f"after {MAX_ROLLBACKS} rollback(s)")
    assert load_checkpoint(run / "checkpoints" / "last.safetensors").non_finite("G", "D") is None


def test_a_rank_refusing_bad_input_under_nproc_is_one_error_and_status_2(tmp_path):
    """Each rank prints its own error; torchrun's ChildFailedError traceback (about forty
    lines) is cut to one line naming the rank, and the status is the rank's."""
    done = _train("--conditional", "--epochs", "1", "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "--conditional needs at least two classes" in done.stderr
    # whichever rank torchrun saw fail first: both refuse the same input
    assert re.search(r"^cxrgan train: rank [01] exited with status 2 ", done.stderr, re.M)
    assert "Traceback" not in done.stderr and "ChildFailedError" not in done.stderr
    assert len(done.stderr.splitlines()) <= 6, done.stderr


def test_batch_size_must_split_over_the_processes():
    from cxrgan.config import TrainConfig
    from cxrgan.data.source import load_phantoms
    from cxrgan.training.setup import build_trainer

    cfg = TrainConfig(epochs=1, steps_per_epoch=1, **{**TINY_CONFIG, "batch_size": 10})
    data, cpu = load_phantoms(32, 32, seed=0), torch.device("cpu")
    with pytest.raises(CxrganError, match="multiple of the 3 processes"):
        build_trainer(cfg, None, data, cpu, rank=1, world_size=3)


def test_nccl_on_cpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CXRGAN_DIST_BACKEND", "nccl")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CxrganError, match="nccl needs CUDA"):
        ddp.init(ddp.World(0, 2, 0))


def test_nproc_under_torchrun_must_agree(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", *TINY, "--nproc", "3"]) == 2
    assert "leave --nproc out" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# --precision and --compile (issue 11 item 4): CUDA untested; these are their CPU checks


def _bound_phases(scaler_scale: float):
    from cxrgan.losses import LOSSES
    from cxrgan.models import ModelSpec, build_models
    from cxrgan.training.step import bind_phases

    torch.manual_seed(0)
    g, d = build_models(ModelSpec("dcgan", 8, 32, kwargs={"ngf": 4, "ndf": 4}))
    opts = {"G": (g, torch.optim.Adam(g.parameters())), "D": (d, torch.optim.Adam(d.parameters()))}
    loss = LOSSES.load("bce")(g, d, augment=None)
    phases = bind_phases(loss, opts)
    scalers = {n: torch.amp.GradScaler("cpu", init_scale=scaler_scale) for n in ("G", "D")}
    for bound in phases:
        bound.autocast, bound.scaler = ("cpu", torch.float16), scalers[bound.phase.net]
    return g, loss, phases, scalers


def test_fp16_scales_the_gradients_skips_overflow_and_keeps_its_state():
    from cxrgan.losses.base import StepBatch
    from cxrgan.training.callbacks import GradScalers
    from cxrgan.training.step import train_step

    def batch():
        return StepBatch(torch.randn(4, 1, 32, 32), None, torch.randn(4, 8), None)

    g, loss, phases, scalers = _bound_phases(2.0**10)
    before = [p.detach().clone() for p in g.parameters()]
    train_step(loss, phases, batch(), 0)
    assert all(torch.isfinite(p).all() for p in g.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, g.parameters(), strict=True))
    # A scale that overflows fp16 gradients: the step is skipped and the scale halved.
    g, loss, phases, scalers = _bound_phases(2.0**70)
    before = [p.detach().clone() for p in g.parameters()]
    train_step(loss, phases, batch(), 0)
    assert all(torch.equal(a, p) for a, p in zip(before, g.parameters(), strict=True))
    assert scalers["G"].get_scale() == 2.0**69
    # Its state goes into checkpoints (JSON) and comes back.
    state = json.loads(json.dumps(GradScalers(scalers).state()))
    fresh = {n: torch.amp.GradScaler("cpu") for n in ("G", "D")}
    GradScalers(fresh).load_state(None, state)
    assert fresh["G"].get_scale() == 2.0**69


def test_precision_on_cpu_refuses_fp16_and_warns_for_emulated_bf16(tmp_path, monkeypatch, capsys):
    from cxrgan.config import TrainConfig
    from cxrgan.training import device

    out = tmp_path / "run"
    assert main(["train", *TINY, "--precision", "fp16", "--out", str(out)]) == 2
    assert "fp16 needs a CUDA GPU" in capsys.readouterr().err and not out.exists()
    cfg = TrainConfig(precision="bf16", **TINY_CONFIG)
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    autocast, scalers, note = device.precision(cfg, torch.device("cpu"))
    assert autocast == ("cpu", torch.bfloat16) and scalers is None and "20x slower" in note


def test_bf16_and_compile_train_on_cpu_with_the_same_checkpoint_keys(tmp_path):
    base = ["--epochs", "1", "--steps-per-epoch", "2"]
    assert main(["train", *TINY, *base, "--out", str(tmp_path / "fp32")]) == 0
    bf16_args = ["--precision", "bf16", "--out", str(tmp_path / "bf16")]
    assert main(["train", *TINY, *base, *bf16_args]) == 0
    assert main(["train", *TINY, *base, "--compile", "--out", str(tmp_path / "compiled")]) == 0
    fp32, bf16, compiled = (_nets(tmp_path / n) for n in ("fp32", "bf16", "compiled"))
    assert fp32.keys() == bf16.keys() == compiled.keys()
    for key in fp32:
        assert torch.isfinite(bf16[key].float()).all(), key
        torch.testing.assert_close(compiled[key], fp32[key], atol=1e-4, rtol=1e-4, msg=key)


# ------------------------------------------------------------------------------------------------
# --data-on host: the images stay in host memory, each step copies this rank's share (item 2)


def test_streamed_batches_equal_the_in_memory_batches(tmp_path):
    import numpy as np

    from cxrgan.training.sampler import BatchSampler

    pixels = np.random.default_rng(0).integers(0, 256, (40, 32, 32), dtype=np.uint8)
    np.save(tmp_path / "images.npy", pixels)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="c")  # as the decode-once cache is
    for rank in (0, 1):
        memory = BatchSampler(torch.from_numpy(pixels.copy()), None, 16, 3, True, rank, 2)
        streamed = BatchSampler(torch.from_numpy(mapped), None, 16, 3, True, rank, 2,
                                device=torch.device("cpu"))  # fmt: skip
        assert streamed.streamed and not memory.streamed
        for _ in range(7):  # across passes (40 images, 16 a step)
            (a, la), (b, lb) = memory.next(), streamed.next()
            assert torch.equal(a, b) and torch.equal(la, lb) and len(a) == 8


def test_streamed_sampler_saves_the_state_before_its_prefetched_batch(tmp_path):
    """Streamed, the sampler draws one batch ahead of the step; a checkpoint taken between
    steps must resume with that batch, not after it."""
    from cxrgan.training.sampler import BatchSampler

    images = torch.randint(0, 256, (40, 8, 8), dtype=torch.uint8)
    cpu = torch.device("cpu")
    first = BatchSampler(images, None, 16, 5, True, device=cpu)
    for _ in range(4):  # two batches a pass: the prefetched fifth starts a third pass
        first.next()
    tensors, meta = first.state()
    assert meta["pos"] == 32  # the second pass, as the step left it, not the prefetched third
    again = BatchSampler(images, None, 16, 0, True, device=cpu)
    again.load_state(tensors, meta)
    for _ in range(5):
        (a, la), (b, lb) = first.next(), again.next()
        assert torch.equal(a, b) and torch.equal(la, lb)


def test_data_on_host_trains_the_same_run_and_auto_picks_by_free_memory(tmp_path, monkeypatch):
    from cxrgan.config import TrainConfig
    from cxrgan.data.source import load_phantoms
    from cxrgan.training.setup import data_on_device

    base = ["--epochs", "1", "--steps-per-epoch", "2"]
    assert main(["train", *TINY, *base, "--out", str(tmp_path / "device")]) == 0
    host = ["--data-on", "host", "--out", str(tmp_path / "host")]
    assert main(["train", *TINY, *base, *host]) == 0
    a, b = _nets(tmp_path / "device"), _nets(tmp_path / "host")
    assert all(torch.equal(a[k], b[k]) for k in a)
    data = load_phantoms(16, 32, seed=0)  # 16 KiB of images
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (32 * 1024, 10**9))
    auto = TrainConfig(data_on="auto", **TINY_CONFIG)
    assert data_on_device(auto, data, torch.device("cuda"))  # fits in half the free
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (31 * 1024, 10**9))
    assert not data_on_device(auto, data, torch.device("cuda"))
    assert not data_on_device(auto.replace(data_on="host"), data, torch.device("cpu"))
