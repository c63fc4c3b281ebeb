"""The Python surface: `import cxrgan` is cheap; train, resume, load, sample by class, and a
Dataset of synthetic images for users' own training loops. docs/api.md's example runs as written.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from image_factory import write_image
from PIL import Image
from tiny import TINY_CONFIG
from torch import Tensor, nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

import cxrgan
from cxrgan.cli.main import main
from cxrgan.data.folder import load_folder
from cxrgan.data.pixels import from_uint8, to_uint8
from cxrgan.errors import CxrganError
from cxrgan.inference import generate
from cxrgan.metrics import METRICS, evaluate_sets
from cxrgan.models import ModelSpec
from cxrgan.models.base import Generator

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "api_example.py"  # docs/api.md's example, run as it stands below
CLASSES = ("NORMAL", "PNEUMONIA")


def test_import_cxrgan_loads_no_torch():
    code = "import sys, cxrgan; print('torch' in sys.modules, cxrgan.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", cxrgan.__version__]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    """An unconditional tiny run on the phantoms, trained from a dict, without evaluation (so
    it has no checkpoints/best)."""
    out = tmp_path_factory.mktemp("plain") / "run"
    settings = {**TINY_CONFIG, "demo_images": 32, "epochs": 1, "steps_per_epoch": 2}
    return cxrgan.train({**settings, "out": str(out)})


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory) -> Path:
    """A conditional tiny run on NORMAL/ and PNEUMONIA/ folders of noise images, trained from a
    TrainConfig, evaluated each epoch (so it has checkpoints/best) and with an EMA generator."""
    root = tmp_path_factory.mktemp("conditional")
    for k in range(32):
        write_image(root / "data" / CLASSES[k % 2] / f"xray{k:02d}.png", seed=k)
    cfg = cxrgan.TrainConfig(
        **{**TINY_CONFIG, "ema_kimg": 0.01},
        data=str(root / "data"),
        conditional=True,
        epochs=1,
        steps_per_epoch=2,
        eval_every=1,
        eval_n=16,
        cache=False,
        out=str(root / "run"),
    )
    return cxrgan.train(cfg)


@pytest.fixture(scope="module")
def g(conditional_run) -> cxrgan.SyntheticGenerator:
    return cxrgan.load_generator(conditional_run)


class Shade(Generator):
    """Class 0 draws all-black images, class 1 all-white (plus a learned term times zero), so a
    test can read each image's class off its pixels."""

    def __init__(self) -> None:
        super().__init__(z_dim=4, c_dim=2, resolution=8, channels=1)
        self.fc = nn.Linear(4, 64)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        assert c is not None
        learned = torch.tanh(self.fc(z)).view(len(z), 1, 8, 8)
        return learned * 0 + (c.float() * 2 - 1).view(-1, 1, 1, 1)


def shade(classes: tuple[str, ...] = CLASSES) -> cxrgan.SyntheticGenerator:
    spec = ModelSpec("shade", z_dim=4, resolution=8, c_dim=2, classes=classes)
    return cxrgan.SyntheticGenerator(Shade(), spec)


def drawn_classes(images: np.ndarray) -> list[int]:
    return [int(a.mean() > 127) for a in images]


# --- train, resume, load ------------------------------------------------------------------


def test_train_resume_load_and_sample(plain_run):
    assert isinstance(plain_run, Path) and (plain_run / "checkpoints/last.safetensors").is_file()
    assert cxrgan.resume(plain_run, epochs=2) == plain_run

    g = cxrgan.load_generator(plain_run, checkpoint="last")
    assert (g.z_dim, g.resolution, g.classes) == (16, 32, ())
    a = cxrgan.sample_images(g, 5, seed=3)
    assert a.shape == (5, 32, 32) and a.dtype == np.uint8
    assert np.array_equal(a, cxrgan.sample_images(g, 5, seed=3))
    assert not np.array_equal(a, cxrgan.sample_images(g, 5, seed=4))
    # The wrapper and the bare nn.Module draw the same images, as `cxrgan generate` does.
    assert np.array_equal(a, cxrgan.sample_images(g.module, 5, seed=3))
    assert np.array_equal(a, generate.sample_images(g.module, 5, 3, "cpu"))
    assert np.array_equal(a, g.sample(5, seed=3))
    assert isinstance(cxrgan.TrainConfig(), cxrgan.TrainConfig)
    names = {"train", "load_generator", "sample_images", "TrainConfig", "SyntheticDataset",
             "evaluate"}  # fmt: skip
    assert set(dir(cxrgan)) >= names


def test_train_from_a_train_config_returns_the_run_directory(conditional_run):
    assert isinstance(conditional_run, Path)
    assert (conditional_run / "config.json").is_file()
    names = {p.name for p in (conditional_run / "checkpoints").iterdir()}
    assert {"last.safetensors", "best.safetensors"} <= names


def test_default_checkpoint_is_best(conditional_run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = cxrgan.load_generator(conditional_run)
    assert not [w for w in caught if "checkpoints/best" in str(w.message)]  # no fallback note
    assert g.checkpoint.name == "best.safetensors"
    assert g.ema and not cxrgan.load_generator(conditional_run, raw=True).ema
    assert isinstance(g.module, nn.Module) and g.spec.c_dim == 2
    assert "best.safetensors" in repr(g)


def test_without_best_it_falls_back_to_last_with_a_warning(plain_run):
    with pytest.warns(UserWarning, match=r"no checkpoints/best .*using checkpoints/last"):
        g = cxrgan.load_generator(plain_run)
    assert g.checkpoint.name == "last.safetensors"


def test_a_missing_checkpoint_is_an_error_naming_those_there(plain_run):
    with pytest.raises(CxrganError, match=r"no checkpoint 'epoch_0007'.*have: last"):
        cxrgan.load_generator(plain_run, checkpoint="epoch_0007")


# --- sample --------------------------------------------------------------------------------


def test_sample_shapes_dtypes_and_ranges(g):
    assert g.classes == CLASSES and g.resolution == 32 and g.device == torch.device("cpu")
    pixels = g.sample(5, label="NORMAL", seed=0)
    assert isinstance(pixels, np.ndarray) and pixels.shape == (5, 32, 32)
    assert pixels.dtype == np.uint8
    x = g.sample(5, label="NORMAL", seed=0, output="tensor")
    assert isinstance(x, Tensor) and x.shape == (5, 1, 32, 32) and x.dtype == torch.float32
    assert x.device == g.device and -1 <= x.min() <= x.max() <= 1
    assert not x.requires_grad
    assert np.array_equal(to_uint8(x), pixels)  # the tensor is the pixels before rounding


@pytest.mark.parametrize("n", [1, 70])  # one image (padded for BatchNorm), and two batches
def test_tensor_output_matches_the_pixels_cxrgan_generate_writes(g, n):
    labels = torch.arange(n) % 2
    pixels = generate.sample_images(g.module, n, 11, "cpu", labels)
    assert np.array_equal(g.sample(n, seed=11), pixels)
    assert np.array_equal(to_uint8(g.sample(n, seed=11, output="tensor")), pixels)


def test_same_seed_same_images_and_a_fresh_seed_otherwise(g):
    a = g.sample(6, label="PNEUMONIA", seed=5)
    assert np.array_equal(a, g.sample(6, label="PNEUMONIA", seed=5))
    assert not np.array_equal(a, g.sample(6, label="PNEUMONIA", seed=6))
    b = g.sample(6, label="PNEUMONIA")
    seed = g.last_seed
    assert seed is not None and not np.array_equal(b, g.sample(6, label="PNEUMONIA"))
    assert np.array_equal(b, g.sample(6, label="PNEUMONIA", seed=seed))  # repeatable


def test_label_by_name_and_by_index_give_the_same_images(g):
    by_name = g.sample(4, label="PNEUMONIA", seed=2)
    assert np.array_equal(by_name, g.sample(4, label=1, seed=2))
    assert np.array_equal(by_name, g.sample(4, label=np.int64(1), seed=2))
    assert np.array_equal(by_name, g.sample(4, label=["PNEUMONIA", 1, "PNEUMONIA", 1], seed=2))
    assert not np.array_equal(by_name, g.sample(4, label="NORMAL", seed=2))


def test_labels_pick_each_images_class():
    gen = shade()
    assert drawn_classes(gen.sample(4, label=["PNEUMONIA", 0, 1, "NORMAL"])) == [1, 0, 1, 0]
    assert drawn_classes(gen.sample(3, label="PNEUMONIA")) == [1, 1, 1]
    assert drawn_classes(gen.sample(3, label=torch.tensor([0, 1, 1]))) == [0, 1, 1]
    names = np.array(["NORMAL", "PNEUMONIA", "NORMAL"])
    assert drawn_classes(gen.sample(3, label=names)) == [0, 1, 0]
    # label=None on a conditional generator: the classes in turn (documented).
    assert drawn_classes(gen.sample(5)) == [0, 1, 0, 1, 0]
    assert gen.class_indices(None, 5).tolist() == [0, 1, 0, 1, 0]
    x = gen.sample(2, label=["NORMAL", "PNEUMONIA"], output="tensor")
    assert x[:, 0, 0, 0].tolist() == [-1.0, 1.0]
    assert drawn_classes(cxrgan.sample_images(gen, 2, label="PNEUMONIA")) == [1, 1]


def test_unknown_labels_are_errors_naming_the_classes(g):
    with pytest.raises(
        CxrganError, match="no class 'COVID'; this generator draws NORMAL, PNEUMONIA"
    ):
        g.sample(2, label="COVID")
    with pytest.raises(CxrganError, match=r"no class index 2; .*0 NORMAL, 1 PNEUMONIA"):
        g.sample(2, label=2)
    with pytest.raises(CxrganError, match="no class index -1"):
        g.sample(2, label=[0, -1])
    with pytest.raises(CxrganError, match="not True"):
        g.sample(2, label=True)
    with pytest.raises(CxrganError, match="label has 1 entries for 2 images"):
        g.sample(2, label=["NORMAL"])
    with pytest.raises(CxrganError, match="n must be at least 1"):
        g.sample(0)
    with pytest.raises(CxrganError, match="output must be 'uint8' or 'tensor'"):
        g.sample(2, output="png")


def test_an_unconditional_generator_takes_no_label(plain_run):
    g = cxrgan.load_generator(plain_run, checkpoint="last")
    assert g.classes == () and g.sample(3, seed=0).shape == (3, 32, 32)
    with pytest.raises(CxrganError, match="unconditional"):
        g.sample(3, label="NORMAL")


def test_a_bare_module_has_class_indices_but_no_names():
    gen = cxrgan.SyntheticGenerator(Shade())
    assert gen.classes == ("0", "1") and gen.spec.c_dim == 2
    assert drawn_classes(gen.sample(2, label=1)) == [1, 1]
    with pytest.raises(CxrganError, match=r"no names; use an index 0\.\.1"):
        gen.sample(2, label="NORMAL")


def test_to_moves_the_generator_and_returns_it(conditional_run):
    g = cxrgan.load_generator(conditional_run, device="auto")
    assert g.to("cpu") is g and g.device == torch.device("cpu")
    assert g.sample(2, label=0, seed=0, output="tensor").device == torch.device("cpu")


# --- SyntheticDataset -------------------------------------------------------------------------


def test_synthetic_dataset_items(conditional_run, g):
    ds = cxrgan.SyntheticDataset(conditional_run, 10)
    assert isinstance(ds, Dataset) and len(ds) == 10
    assert ds.classes == list(CLASSES) and ds.class_to_idx == {"NORMAL": 0, "PNEUMONIA": 1}
    assert ds.targets == [0, 1] * 5  # label=None: the classes in turn
    image, target = ds[3]
    assert isinstance(image, Tensor) and image.shape == (1, 32, 32)
    assert image.dtype == torch.float32 and -1 <= image.min() <= image.max() <= 1
    assert target == 1
    # Drawn once, from the seed: the generator's own images for those labels and that seed.
    assert np.array_equal(ds.images, g.sample(10, seed=0))
    assert torch.equal(image[0], from_uint8(torch.from_numpy(ds.images[3])))
    assert "NORMAL 5, PNEUMONIA 5" in repr(ds)


def test_synthetic_dataset_label_seed_and_generator(conditional_run, g):
    ds = cxrgan.SyntheticDataset(g, 6, label="PNEUMONIA", seed=4)
    assert ds.targets == [1] * 6
    assert np.array_equal(ds.images, g.sample(6, label="PNEUMONIA", seed=4))
    same = cxrgan.SyntheticDataset(conditional_run, 6, label=1, seed=4)
    assert np.array_equal(ds.images, same.images)
    other = cxrgan.SyntheticDataset(conditional_run, 6, label=1, seed=5)
    assert not np.array_equal(ds.images, other.images)
    with pytest.raises(CxrganError, match="NORMAL, PNEUMONIA"):
        cxrgan.SyntheticDataset(g, 6, label="COVID")


def test_synthetic_dataset_targets_match_the_classes_drawn():
    ds = cxrgan.SyntheticDataset(shade(), 6, label=[1, 1, 0, "NORMAL", "PNEUMONIA", 0])
    assert ds.targets == [1, 1, 0, 0, 1, 0]
    for image, target in ds:
        assert image.shape == (1, 8, 8) and image.mean().item() == (1.0 if target else -1.0)


def test_synthetic_dataset_transform_gets_a_pil_image_like_image_folder(g):
    seen: list[Image.Image] = []

    def transform(image: Image.Image) -> np.ndarray:
        seen.append(image)
        return np.asarray(image)

    ds = cxrgan.SyntheticDataset(g, 4, transform=transform, target_transform=lambda t: CLASSES[t])
    image, target = ds[1]
    assert len(seen) == 1 and isinstance(seen[0], Image.Image)
    assert (seen[0].mode, seen[0].size) == ("L", (32, 32))
    assert np.array_equal(image, ds.images[1]) and target == "PNEUMONIA"
    pil, _ = cxrgan.SyntheticDataset(g, 2, output="pil")[0]
    assert isinstance(pil, Image.Image) and pil.mode == "L"
    with pytest.raises(CxrganError, match="output must be 'tensor' or 'pil'"):
        cxrgan.SyntheticDataset(g, 2, output="uint8")


def test_synthetic_dataset_in_a_dataloader(g):
    normal = cxrgan.SyntheticDataset(g, 6, label="NORMAL")
    pneumonia = cxrgan.SyntheticDataset(g, 4, label="PNEUMONIA", seed=1)
    loader = DataLoader(ConcatDataset([normal, pneumonia]), batch_size=4, num_workers=0)
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.shape == (4, 1, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.long
    assert torch.cat([y for _, y in batches]).tolist() == [0] * 6 + [1] * 4


def test_synthetic_dataset_of_an_unconditional_run(plain_run):
    ds = cxrgan.SyntheticDataset(plain_run, 3, checkpoint="last")
    assert ds.classes == ["synthetic"] and ds.targets == [0, 0, 0]
    assert ds[0][0].shape == (1, 32, 32)
    with pytest.raises(CxrganError, match="unconditional"):
        cxrgan.SyntheticDataset(plain_run, 3, label="NORMAL", checkpoint="last")


# --- evaluate --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eval_folders(tmp_path_factory) -> tuple[Path, Path]:
    """Real and generated 32 px images in NORMAL/ and PNEUMONIA/: 12 + 12 real, 8 + 8 fake."""
    root = tmp_path_factory.mktemp("evaluate")
    for k in range(24):
        write_image(root / "real" / CLASSES[k % 2] / f"r{k:02d}.png", 32, 32, seed=k)
    for k in range(16):
        write_image(root / "fake" / CLASSES[k % 2] / f"f{k:02d}.png", 32, 32, seed=100 + k)
    return root / "real", root / "fake"


def test_evaluate_returns_what_the_cli_writes(eval_folders, tmp_path, capsys):
    real, fake = eval_folders
    cli_json = tmp_path / "cli.json"
    argv = ["evaluate", "--real", str(real), "--fake", str(fake), "--n", "10", "--seed", "2",
            "--json", str(cli_json), "--memorisation-png", str(tmp_path / "cli.png"),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    got = cxrgan.evaluate(real, fake, n=10, seed=2, memorisation_png=tmp_path / "api.png",
                          progress=False, log=None)  # fmt: skip
    assert got == json.loads(cli_json.read_text())
    assert got["classes"] == list(CLASSES) and got["per_class"]["NORMAL"]["skipped"] == {}
    assert got["metrics"]["n_real"] == 10 and got["metrics"]["fwd"] > 0
    assert (tmp_path / "api.png").read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert capsys.readouterr().out == ""  # log=None: nothing printed


def test_evaluate_numbers_are_the_metrics_of_the_loaded_folders(eval_folders, tmp_path):
    real, fake = eval_folders
    got = cxrgan.evaluate(real / "NORMAL", fake / "NORMAL", n=8, progress=False, log=None,
                          memorisation_png=tmp_path / "m.png")  # fmt: skip
    r = load_folder(real / "NORMAL", 32, progress=False).images
    f = load_folder(fake / "NORMAL", 32, progress=False).images
    assert got["metrics"] == evaluate_sets(r, f, n=8, seed=0)  # 12 real images drawn down to 8
    assert (got["image_size"], got["checkpoint"], got["per_class"]) == (32, None, {})
    assert got["skipped"] == {} and got["metrics"]["recall"] is not None
    assert got["about"]["fwd"] == {"better": "lower", "meaning": METRICS["fwd"].meaning,
                                   "caveat": METRICS["fwd"].caveat}  # fmt: skip


def test_evaluate_a_conditional_run_draws_each_class_of_real(conditional_run, tmp_path):
    data = conditional_run.parent / "data"  # 16 NORMAL and 16 PNEUMONIA images of 40×30 px
    lines: list[str] = []
    got = cxrgan.evaluate(data, conditional_run, n=8, memorisation_png=tmp_path / "m.png",
                          progress=False, log=lines.append)  # fmt: skip
    assert (got["checkpoint"], got["image_size"], got["classes"]) == ("last", 32, list(CLASSES))
    assert got["per_class"]["PNEUMONIA"]["generated"] == {"n": 8, "seed": 0, "draw_seed": 1}
    assert got["overall_classes"]["generated"] == {"NORMAL": 4, "PNEUMONIA": 4}
    assert got["metrics"]["n_fake"] == 8 and (tmp_path / "m.png").is_file()
    assert lines[0].startswith("warning: generated images are 32×32 px, real images 40×30 px")


def test_evaluate_mistakes_are_cxrgan_errors(eval_folders):
    real, fake = eval_folders
    with pytest.raises(CxrganError, match="--n must be at least 2, got 1"):
        cxrgan.evaluate(real, fake, n=1)
    with pytest.raises(CxrganError, match="--image-size must be at least 8 px"):
        cxrgan.evaluate(real, fake, image_size=4)
    with pytest.raises(CxrganError, match="data folder not found"):
        cxrgan.evaluate(real / "missing", fake, progress=False, log=None)


# --- docs/api.md's example ---------------------------------------------------------------


def test_api_page_quotes_the_api_example():
    example = EXAMPLE.read_text("utf-8").strip()
    page = (REPO / "docs" / "api.md").read_text("utf-8")
    assert example in page, "docs/api.md must quote examples/api_example.py verbatim"


@pytest.fixture
def decode_cache(tmp_path_factory, monkeypatch) -> Path:
    """One decode-once cache for this session's runs on the shared data: the 5,216 JPEGs are
    decoded once for this file and tests/test_notebook.py (same path), not into ~/.cache."""
    path = tmp_path_factory.getbasetemp() / "xdg-cache"
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(path))
    return path


@pytest.mark.shared_data
def test_api_example_runs_as_written(kaggle224, tmp_path, monkeypatch, decode_cache):
    """examples/api_example.py, unchanged, on the Kaggle split; only train's budget and sizes
    are made tiny (and its folder and output path set) by wrapping cxrgan.train."""
    real_train, asked = cxrgan.train, []

    def tiny_train(config):
        asked.append(dict(config))
        tiny = {**TINY_CONFIG, "epochs": 1, "steps_per_epoch": 2, "eval_n": 32}
        return real_train({**config, **tiny, "data": str(kaggle224), "out": str(tmp_path / "run")})

    monkeypatch.setattr(cxrgan, "train", tiny_train)
    monkeypatch.chdir(tmp_path)
    scope = runpy.run_path(str(EXAMPLE), run_name="__main__")

    assert len(asked) == 1 and asked[0]["conditional"] is True and asked[0]["eval_every"] == 1
    g = scope["g"]
    assert g.classes == CLASSES and g.checkpoint.name == "best.safetensors"
    assert scope["images"].shape == (16, 32, 32) and scope["images"].dtype == np.uint8
    assert len(scope["normal"]) == 1000
    x, y = scope["x"], scope["y"]
    assert x.shape == (64, 1, 32, 32) and x.dtype == torch.float32
    assert -1 <= x.min() <= x.max() <= 1 and y.tolist() == [0] * 64
