"""`cxrgan export` on a short run on the shared Kaggle X-rays: the model card's numbers are the
run's own, and the bundle loads and samples in a fresh interpreter where cxrgan (and numpy and
Pillow) cannot be imported, only torch and safetensors."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import answers_file, shared
from PIL import Image
from safetensors import safe_open
from tiny import TINY_CONFIG

from cxrgan.api import load_generator
from cxrgan.cli.main import main
from cxrgan.config import TrainConfig
from cxrgan.inference.generate import generate_images
from cxrgan.reporting.html_report import write_report
from cxrgan.study.make import make_study
from cxrgan.study.markdown import code, text
from cxrgan.study.score import score_study
from cxrgan.training.checkpoint import load_checkpoint, tensor_checksum
from cxrgan.training.session import start_run

# Only torch and safetensors: no site hooks (so no editable cxrgan), numpy and Pillow refused.
ISOLATED = """
import importlib.abc, importlib.util, runpy, sys
sys.path[:0] = [{bundle!r}, {site!r}]
assert importlib.util.find_spec("cxrgan") is None, "cxrgan is importable"
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("cxrgan", "numpy", "PIL"):
            raise ModuleNotFoundError(f"no {{name}} here")
sys.meta_path.insert(0, Refuse())
runpy.run_path({load!r}, run_name="__main__")
print("loaded:", sorted(m for m in sys.modules if m.split(".")[0] in ("cxrgan", "numpy", "PIL")))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    kaggle, held_out = shared("kaggle-chest-xray-224/train"), shared("cxr-kermany/png128")
    tmp = tmp_path_factory.mktemp("export")
    run = tmp / "run"
    config = {**TINY_CONFIG, "batch_size": 32, "ema_kimg": 0.01}
    start_run(TrainConfig(data=str(kaggle), out=str(run), epochs=1, steps_per_epoch=3,
                          cache_dir=str(tmp / "cache"), **config))  # fmt: skip
    assert main(["evaluate", "--real", str(held_out), "--fake", str(run), "--n", "64",
                 "--json", str(run / "evaluation.json"), "--no-progress"]) == 0  # fmt: skip
    make_study(held_out, run, 10, run / "turing", seed=0)
    key = json.loads((run / "turing" / "key.json").read_text())
    right = lambda i: ("F" if i["truth"] == "fake" else "R", 4)  # noqa: E731
    score_study(run / "turing", [answers_file(tmp / "a.json", key, "A", right)])
    bundle = tmp / "bundle"
    assert main(["export", str(run), "--out", str(bundle), "--onnx"]) == 0
    return run, bundle, tmp


def test_model_card_numbers_are_the_runs(exported: tuple[Path, Path, Path]) -> None:
    run, bundle, _ = exported
    card = (bundle / "README.md").read_text()
    info = json.loads((run / "config.json").read_text())
    meta = yaml.safe_load(card.split("---\n")[1])  # the front matter a model hub reads
    assert meta["license"] == "cc-by-4.0" and meta["datasets"] == ["kermany-chest-xray"]
    assert meta["pipeline_tag"] == "unconditional-image-generation" and "gan" in meta["tags"]
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"]["type"] == "kermany-chest-xray"
    assert result["dataset"]["split"] == "held-out"
    held_out = json.loads((run / "evaluation.json").read_text())["metrics"]
    assert {m["type"]: m["value"] for m in result["metrics"]} == {
        "fwd": held_out["fwd"], "kid": held_out["kid_mean"],
        "precision": held_out["precision"], "recall": held_out["recall"]}  # fmt: skip
    classes = info["dataset"]["classes"]
    assert classes == {"NORMAL": 1341, "PNEUMONIA": 3875}
    for cls, count in classes.items():
        assert f"  - {cls}: {count}\n" in card
    assert f"- images: {info['dataset']['count']}\n" in card
    assert "- file formats: jpeg: 5216" in card
    assert "CC BY 4.0" in card and "Kermany DS, Zhang K, Goldbaum M" in card
    assert "- 3 steps over 1 epoch(s); stopped: completed" in card
    assert f"device: {info['device']}; torch {info['torch_version']}" in card
    metrics = json.loads((run / "evaluation.json").read_text())["metrics"]
    for key in ("fwd", "kid_mean", "precision", "recall", "density", "coverage"):
        assert f"| {key} | {metrics[key]:.4g} |" in card
    assert f"Memorised share: {metrics['memorised_share']:.4g}" in card
    score = json.loads((run / "turing" / "score.json").read_text())
    assert score["readers"][0]["accuracy"] == 1.0
    assert "| A | 1.000 | 1.000 | 1.000 |" in card
    assert "## Privacy\n\nNot audited" in card
    assert "Trained without differential privacy" in card
    assert "**Not for clinical use or diagnosis.**" in card
    assert "(the EMA copy, G_ema)" in card


def test_bundle_is_the_ema_generator_with_its_spec(exported: tuple[Path, Path, Path]) -> None:
    run, bundle, _ = exported
    ckpt = load_checkpoint(run / "checkpoints" / "last.safetensors")
    with safe_open(str(bundle / "generator.safetensors"), "pt") as f:
        meta = f.metadata()
        names = set(f.keys())
        weight = f.get_tensor("main.0.weight")
    assert json.loads(meta["model_spec"]) == ckpt.model_spec().to_dict()
    assert json.loads((bundle / "model_spec.json").read_text()) == ckpt.model_spec().to_dict()
    assert meta["weights"] == "G_ema"
    assert all(not n.startswith(("G.", "D.", "opt")) for n in names)  # G_ema alone
    assert np.array_equal(weight.numpy(), ckpt.tensors["G_ema.main.0.weight"].numpy())
    # G_ema's weights, its batch norm on the standing statistics stored beside them.
    stored = {k: ckpt.tensors.get(f"standing.G_ema.{k}", ckpt.tensors[f"G_ema.{k}"])
              for k in names}  # fmt: skip
    assert any(k.endswith("running_var") for k in names)
    sums = json.loads(meta["checksums"])  # as the checkpoint's, for the tensors bundled
    assert sums == {k: tensor_checksum(v) for k, v in stored.items()}
    assert (bundle / "samples.png").stat().st_size > 500
    assert len((bundle / "load.py").read_text().splitlines()) <= 17


def test_bundle_onnx_draws_cxrgan_images(exported: tuple[Path, Path, Path]) -> None:
    import onnxruntime as ort

    run, bundle, _ = exported
    g = load_generator(run, "last")
    expected = g.sample(3, seed=4, output="tensor").numpy()  # latents 0..2 of seed 4
    z = torch.randn(64, g.z_dim, generator=torch.Generator().manual_seed(4))[:3]
    session = ort.InferenceSession(str(bundle / "generator.onnx"),
                                   providers=["CPUExecutionProvider"])  # fmt: skip
    got = session.run(None, {"latent": z.numpy()})[0]
    assert np.abs(got - expected).max() <= 1e-4


def _run_load(bundle: Path, cwd: Path) -> subprocess.CompletedProcess:
    """BUNDLE/load.py in a fresh interpreter that has torch and safetensors only."""
    cwd.mkdir(exist_ok=True)
    code = ISOLATED.format(
        bundle=str(bundle), site=sysconfig.get_paths()["purelib"], load=str(bundle / "load.py")
    )
    quiet = "ignore:Failed to initialize NumPy"  # torch's warning, as numpy is refused here
    return subprocess.run([sys.executable, "-I", "-S", "-W", quiet, "-c", code], cwd=cwd,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_bundle_loads_without_cxrgan(exported: tuple[Path, Path, Path]) -> None:
    run, bundle, tmp = exported
    done = _run_load(bundle, tmp / "elsewhere")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded: []" in done.stdout
    got = np.stack([np.asarray(Image.open(bundle / f"sample_{i:02d}.png")) for i in range(16)])
    # The same images as cxrgan's, in eval mode: a batch of 16 rather than cxrgan's 64 may
    # move a pixel across a rounding boundary, never further.
    cxrgan_images = generate_images(run, 16, seed=0)
    assert np.abs(got.astype(int) - cxrgan_images).max() <= 1
    assert (got == cxrgan_images).mean() > 0.999
    assert (
        re.search(r"^\s*(import|from) cxrgan", (bundle / "generator.py").read_text(), re.M) is None
    )


def _refused(bundle: Path, cwd: Path, *needles: str) -> None:
    done = _run_load(bundle, cwd)
    err = done.stderr.strip()
    assert done.returncode == 1, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"refusing to load {bundle / 'generator.safetensors'}: "), err
    for needle in needles:
        assert needle in err, err
    assert not list(bundle.glob("sample_*.png"))  # nothing drawn from the wrong weights


def test_tampered_bundle_is_refused_in_one_line(exported: tuple[Path, Path, Path]) -> None:
    _, bundle, tmp = exported
    weights = bundle / "generator.safetensors"
    card = (bundle / "README.md").read_text()
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert f"- SHA-256 of `generator.safetensors`: `{digest}`\n" in card
    copy = tmp / "tampered"
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("sample_*.png"))
    raw = bytearray(weights.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    begin, end = json.loads(raw[8 : 8 + n])["main.0.weight"]["data_offsets"]
    at = 8 + n + (begin + end) // 2
    raw[at : at + 64] = bytes(b ^ 0xFF for b in raw[at : at + 64])  # 64 bytes flipped
    (copy / "generator.safetensors").write_bytes(raw)
    _refused(copy, tmp / "elsewhere", "does not match the SHA-256 in README.md")
    # A card edited without its hash line: the tensors' own checksums still see the damage.
    (copy / "README.md").write_text(card.replace(f"`{digest}`", "(removed)"))
    _refused(copy, tmp / "elsewhere", "tensor main.0.weight does not match its checksum")
    # The weights intact, the metadata's checksums edited: refused as well.
    raw = bytearray(weights.read_bytes())
    header = json.loads(raw[8 : 8 + n])
    sums = json.loads(header["__metadata__"]["checksums"])
    sums["main.0.weight"] = "0" * 32
    header["__metadata__"]["checksums"] = json.dumps(sums)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    (copy / "generator.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])
    _refused(copy, tmp / "elsewhere", "tensor main.0.weight")
    (copy / "generator.safetensors").unlink()
    _refused(copy, tmp / "elsewhere", "cannot read it")


def test_run_report_links_to_the_study(exported: tuple[Path, Path, Path]) -> None:
    run, _, _ = exported
    page = write_report(run).read_text()
    assert '<a href="turing/score.html">' in page
    assert "1 reader(s), mean accuracy 1.000 (0.5 is chance)" in page


def test_study_of_a_run_names_nothing(exported: tuple[Path, Path, Path]) -> None:
    run, _, tmp = exported
    page = (run / "turing" / "study.html").read_text()
    for hint in (str(tmp), "checkpoint", "seed", "NORMAL", "PNEUMONIA", "png128", "truth"):
        assert hint not in page, hint
    key = json.loads((run / "turing" / "key.json").read_text())
    assert key["run"] == str(run.resolve()) and key["image_size"] == 32


IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('x')</script> | *bold*"


def test_names_users_chose_are_text_in_the_model_card(tmp_path: Path) -> None:
    """A class folder and a reader named as markup appear as their text, escaped: no raw HTML,
    no table cell split, in the card that `cxrgan export` writes; the turing pages too."""
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for cls in ("NORMAL", IMG):
        (data / cls).mkdir(parents=True)
        for i in range(16):
            pixels = rng.integers(0, 256, (40, 40), dtype=np.uint8)
            Image.fromarray(pixels).save(data / cls / f"{i:02d}.png")
    (data / "NORMAL" / "odd.<b>").write_bytes(b"not an image")  # its suffix is shown too
    run = tmp_path / "run"
    start_run(TrainConfig(data=str(data), out=str(run), epochs=1, steps_per_epoch=1,
                          cache=False, **TINY_CONFIG))  # fmt: skip
    make_study(data, run, 6, run / "turing", seed=0)
    key = json.loads((run / "turing" / "key.json").read_text())
    answers = answers_file(tmp_path / "a.json", key, SCRIPT, lambda i: ("R", 3))
    score_study(run / "turing", [answers])
    bundle = tmp_path / "bundle"
    assert main(["export", str(run), "--out", str(bundle)]) == 0
    card = (bundle / "README.md").read_text()
    assert "<img" not in card and "<script" not in card and "<b>" not in card
    assert "  - &lt;img src=x onerror=alert(1)&gt;: 16\n" in card
    assert "&lt;b&gt;: 1" in card  # among the file formats
    row = next(line for line in card.splitlines() if "script&gt;" in line)
    assert row.startswith("| &lt;script&gt;alert('x')&lt;/script&gt; \\| \\*bold\\* | ")
    assert row.count(" | ") == 5  # the reader's pipe is escaped: still six cells
    assert "&lt;/script&gt;" in (run / "turing" / "score.html").read_text()
    for page in ("score.html", "study.html"):
        assert "<script>alert" not in (run / "turing" / page).read_text()
    # --license goes into the YAML front matter: one token, checked before anything is written.
    other = tmp_path / "other"
    assert main(["export", str(run), "--out", str(other), "--license", "mit\nx: <b>"]) == 2
    assert not other.exists()


def test_markdown_escapes_keep_every_value_on_its_line() -> None:
    assert text("a\nb") == "a\\\\nb"  # renders as a\nb, on one line
    assert text("x_y [z](javascript:1) `c` & ~") == r"x\_y \[z\](javascript:1) \`c\` &amp; \~"
    assert code("/data/<img>") == "`/data/<img>`"  # a code span shows HTML as text
    assert code("a``b") == "```a``b```" and code("`x") == "`` `x ``"
    assert code("p\nq") == "`p\\nq`"
