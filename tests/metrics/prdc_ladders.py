"""Precision/recall/density/coverage ladders on real radiographs, for docs/metrics.md.

Not a test file: a script that prints the tables quoted in docs/metrics.md. Real data: the
Kaggle training split (5,216 images) at 64 px, split into two halves by patient
(`cxrgan.data.split.split_by_patient`, seed 0), n images drawn from each half. The first half
is the real side; the second half, corrupted, plays the generated side:

* blur: Gaussian, sigma 0.25 -> 3 px;
* noise: additive Gaussian, std 2 -> 32 gray levels;
* mode dropping: only the second half's NORMAL images (the real side holds both classes).

Every row is scored in the PRDC space (`PrdcSpace`) and, for comparison, in the KID space
that PRDC used before (`FeatureSpace`). With --run RUN[:CHECKPOINT,...], generated images from a
run's checkpoints are scored too, against half of the run's training images (--run-data,
default cxr-kermany/png128) at the run's size; the other half is the real-vs-real ceiling.

    .venv/bin/python tests/metrics/prdc_ladders.py [--n 2000] [--run RUN:epoch_0001,epoch_0004]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics_helpers import add_noise, blur

from cxrgan.data.folder import load_folder
from cxrgan.data.split import split_by_patient
from cxrgan.metrics import FeatureSpace, PrdcSpace, fwd, prdc

REPO = Path(__file__).resolve().parents[2]
KAGGLE = REPO.parent / "shared" / "data" / "kaggle-chest-xray-224" / "train"
PNG128 = REPO.parent / "shared" / "data" / "cxr-kermany" / "png128"
BLUR = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
NOISE = (2.0, 4.0, 8.0, 16.0, 32.0)


def halves(root: Path, size: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real side, other half, other half's labels): patient-disjoint, n drawn from each."""
    data = load_folder(root, size, "crop", progress=False)
    first, second = split_by_patient(data.paths, data.labels, 0.5, seed=0)
    rng = np.random.default_rng(0)
    a = np.sort(rng.choice(first, min(n, len(first)), replace=False))
    b = np.sort(rng.choice(second, min(n, len(second)), replace=False))
    return data.images[a], data.images[b], data.labels[b]


def score(real: np.ndarray, rows: dict[str, np.ndarray]) -> dict[str, dict[str, dict]]:
    prdc_space, kid_space = PrdcSpace.fit(real), FeatureSpace.fit(real)
    spaces = {
        "prdc space": (prdc_space, prdc_space(real)),
        "kid space": (kid_space, kid_space(real)),
    }
    out = {
        name: {label: prdc(ref, space(x)) for label, x in rows.items()}
        for name, (space, ref) in spaces.items()
    }
    for label, x in rows.items():
        out["prdc space"][label]["fwd"] = fwd(real, x)
    return out


def table(results: dict[str, dict[str, dict]]) -> str:
    new, old = results["prdc space"], results["kid space"]
    lines = [
        "| fakes | precision | recall | density | coverage | before: P / R / D / C | FWD |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, m in new.items():
        o = old[label]
        before = " / ".join(f"{o[k]:.2f}" for k in ("precision", "recall", "density", "coverage"))
        lines.append(
            f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['density']:.3f} "
            f"| {m['coverage']:.3f} | {before} | {m['fwd']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--data", type=Path, default=KAGGLE)
    parser.add_argument("--run", help="RUN:CHECKPOINT[,CHECKPOINT...] to score generated images")
    parser.add_argument(
        "--run-data", type=Path, default=PNG128, help="the run's training images (real side)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    real, other, labels = halves(args.data, 64, args.n)
    rows = {f"other half of the patients ({len(other)})": other}
    rows.update({f"blur σ = {s:g} px": blur(other, s) for s in BLUR})
    rows.update({f"noise std {s:g}": add_noise(other, s, seed=1) for s in NOISE})
    normal = other[labels == 0]
    rows[f"NORMAL only ({len(normal)}; real side {np.mean(labels == 0):.0%} NORMAL)"] = normal
    print(f"real side: {len(real)} images of {args.data} at 64 px")
    print(table(score(real, rows)))
    if args.run:
        from cxrgan.inference.generate import generate_images

        run, _, names = args.run.partition(":")
        fakes = {c: generate_images(Path(run), len(real), c, 0) for c in names.split(",")}
        size = next(iter(fakes.values())).shape[-1]
        real_s, other_s, _ = halves(args.run_data, size, args.n)
        rows = {f"other half ({size} px)": other_s}
        rows.update({f"{Path(run).name} {c}": x for c, x in fakes.items()})
        print(f"\ngenerated images of {run} at {size} px")
        print(table(score(real_s, rows)))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
