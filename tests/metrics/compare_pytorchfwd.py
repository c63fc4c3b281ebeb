"""Compare cxrgan's FWD with the reference pytorchfwd 1.0.1 on the same images (manual check).

Not a test: pytorchfwd pins scipy==1.11.1 (numpy < 2), torchvision and ptwt==0.1.8, and sets
torch's default dtype to float64 on import, so it runs in a scratch venv, never in .venv:

    python3 -m venv /tmp/fwdvenv
    /tmp/fwdvenv/bin/pip install --no-deps "numpy<1.27" scipy==1.11.1 PyWavelets==1.6.0 \
        ptwt==0.1.8 pytorchfwd==1.0.1 tqdm
    echo /work/main/.venv/lib/python3.11/site-packages > \
        /tmp/fwdvenv/lib/python3.11/site-packages/zz_main.pth   # reuse torch and Pillow
    OMP_NUM_THREADS=1 /tmp/fwdvenv/bin/python tests/metrics/compare_pytorchfwd.py

PyPI's torchvision wheels are CUDA builds whose C ops do not load next to a CPU torch, so the
two transforms pytorchfwd takes from torchvision (ToTensor, Compose) are stubbed below with
their documented behaviour: PIL image -> (C, H, W) tensor of the default dtype in [0, 1].
pytorchfwd reads PNGs as RGB (three identical channels for gray images); cxrgan's FWD uses the
single gray channel, which gives exactly 1/3 of the RGB value. Both are printed, plus cxrgan's
packet statistics on the three replicated channels, which must equal pytorchfwd's number.
"""

from __future__ import annotations

import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "src"), str(Path(__file__).parent)]
DATA = REPO.parent / "shared" / "data" / "cxr-kermany"


def _stub_torchvision() -> None:
    tv = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")

    def to_tensor() -> object:
        def apply(img: Image.Image) -> torch.Tensor:
            arr = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
            return arr.to(torch.get_default_dtype()) / 255.0

        return apply

    def compose(fns: list) -> object:
        def apply(img: object) -> object:
            for fn in fns:
                img = fn(img)
            return img

        return apply

    transforms.ToTensor = to_tensor
    transforms.Compose = compose
    transforms.Resize = None
    tv.transforms = transforms
    sys.modules["torchvision"] = tv
    sys.modules["torchvision.transforms"] = transforms


def _write(images: np.ndarray, folder: Path) -> str:
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img, mode="L").save(folder / f"{i:05d}.png")
    return str(folder)


def _fwd_rgb_replicated(real: np.ndarray, fake: np.ndarray, log_scale: bool) -> float:
    """cxrgan's packets and Fréchet code on 3 identical channels (pytorchfwd's feature layout)."""
    from cxrgan.metrics.frechet import frechet_distances
    from cxrgan.metrics.images import to_unit
    from cxrgan.metrics.wavelets import wavelet_packets

    def stats(images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        p = wavelet_packets(to_unit(images), 4, log_scale=log_scale)  # (N, P, h, w)
        f = p.flatten(2).repeat(1, 1, 3).transpose(0, 1)  # (P, N, 3*h*w)
        mu = f.mean(1)
        c = f - mu.unsqueeze(1)
        return mu, c.transpose(1, 2) @ c / (f.shape[1] - 1)

    (m1, s1), (m2, s2) = stats(real), stats(fake)
    return float(frechet_distances(m1, s1, m2, s2).mean())


def main() -> None:
    _stub_torchvision()
    import pytorchfwd.fwd as reference  # sets torch's default dtype to float64
    from metrics_helpers import add_noise, blur, phantoms, shift

    from cxrgan.data.folder import load_folder
    from cxrgan.metrics.fwd import fwd

    reference.NUM_PROCESSES = 0  # its main() sets this; load in-process
    real = load_folder(DATA / "png128", 64, workers=0, progress=False).images
    rng = np.random.default_rng(0)
    order = rng.permutation(len(real))
    half_a, half_b = real[order[: len(real) // 2]], real[order[len(real) // 2 :]]
    fakes = {
        "random half vs other half": (half_a, half_b),
        "real vs blur sigma=1": (real, blur(real, 1.0)),
        "real vs noise std=8": (real, add_noise(real, 8.0)),
        "real vs shift 4 px": (real, shift(real, 4)),
        "real vs phantoms": (real, phantoms(len(real), 64)[0]),
    }
    print(f"{'pair':28s} {'log':>4s} {'pytorchfwd':>11s} {'cxrgan x3':>11s} {'cxrgan RGB':>11s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (a, b) in fakes.items():
            da = _write(a, Path(tmp) / f"{name}-a")
            db = _write(b, Path(tmp) / f"{name}-b")
            for log_scale in (False, True):
                ref = float(reference.compute_fwd([da, db], "Haar", 4, log_scale, 128, None))
                ours = fwd(a, b, level=4, log_scale=log_scale)
                rgb = _fwd_rgb_replicated(a, b, log_scale)
                print(f"{name:28s} {log_scale!s:>5s} {ref:11.6f} {3 * ours:11.6f} {rgb:11.6f}")


if __name__ == "__main__":
    main()
