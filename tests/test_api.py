"""The Python surface: `import cxrgan` is cheap; train, resume, load and sample from Python."""

import subprocess
import sys

import numpy as np
from tiny import TINY_CONFIG

import cxrgan


def test_import_cxrgan_loads_no_torch():
    code = "import sys, cxrgan; print('torch' in sys.modules, cxrgan.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", cxrgan.__version__]


def test_train_resume_load_and_sample(tmp_path):
    settings = {**TINY_CONFIG, "demo_images": 32, "epochs": 1, "steps_per_epoch": 2}
    run = cxrgan.train({**settings, "out": str(tmp_path / "run")})
    assert (run / "checkpoints" / "last.safetensors").is_file()
    assert cxrgan.resume(run, epochs=2) == run

    g = cxrgan.load_generator(run)
    assert (g.z_dim, g.resolution) == (16, 32)
    a = cxrgan.sample_images(g, 5, seed=3)
    assert a.shape == (5, 32, 32) and a.dtype == np.uint8
    assert np.array_equal(a, cxrgan.sample_images(g, 5, seed=3))
    assert not np.array_equal(a, cxrgan.sample_images(g, 5, seed=4))
    assert isinstance(cxrgan.TrainConfig(), cxrgan.TrainConfig)
    assert set(dir(cxrgan)) >= {"train", "load_generator", "sample_images", "TrainConfig"}
