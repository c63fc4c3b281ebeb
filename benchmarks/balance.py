"""`--balance auto` against fixed learning rates at equal budget, on the Kaggle train split.

Runs one `cxrgan sweep` with balance=off,auto from the tutorial's rates (both 2e-4, the
setting in which D crushes G on chest X-rays) and prints, per member: best and final FWD,
the final G learning rate and the diagnosis. Same data, seed, budget and evaluation for both.

    python benchmarks/balance.py [--data ../shared/data/kaggle-chest-xray-224/train] [--steps 400]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/kaggle-chest-xray-224/train"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=Path("sweeps/balance-benchmark"))
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--width", type=int, default=32, help="ngf = ndf")
    a = p.parse_args()
    cmd = [
        sys.executable, "-m", "cxrgan", "sweep", "--data", str(a.data), "--out", str(a.out),
        "--sweep-param", "balance=off,auto", "--g-lr", "2e-4", "--d-lr", "2e-4",
        "--steps", str(a.steps), "--image-size", str(a.image_size), "--ngf", str(a.width),
        "--ndf", str(a.width), "--batch-size", "64", "--eval-every", "1", "--eval-n", "1000",
        "--log-every", "5", "--seed", "1",
    ]  # fmt: skip
    subprocess.run(cmd, check=False)
    sweep = json.loads((a.out / "sweep.json").read_text())
    print(f"\n{'member':36s} {'best FWD':>9s} {'final FWD':>9s} {'final lr_G':>10s}  diagnosis")
    for m in sweep["members"]:
        run = a.out / m["run_dir"]
        records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        fwd = [r["fwd"] for r in records if "fwd" in r]
        lr_g = [r["lr_g"] for r in records if "loss_d" in r]
        diag = (m.get("diagnosis") or {}).get("title", "?")
        best = min(fwd) if fwd else float("nan")
        last = fwd[-1] if fwd else float("nan")
        print(f"{m['name']:36s} {best:9.4f} {last:9.4f} {lr_g[-1]:10.2e}  {diag}")


if __name__ == "__main__":
    main()
