"""The memorised share of `benchmarks/quality.py`'s finished rows, measured on many more images.

quality.py scores each row's memorised share on as many generated images as there are held-out
ones (768): a share of 1 % is 8 images, and two rows 15 and 2 images apart are hard to tell from
chance. This script draws `--n` images (default 10,000) from each finished row's saved generator
(G_ema where it has one, the same checkpoint quality.py judged) and counts again, with a 95 %
Wilson interval, the distinct training films they sit on, the median distance to the nearest
training film (a generator far from every film flags none, and that is not the same as not
copying), and the real reference: held-out films of new patients against the same training set
(only 768 of them, so its interval is wider). Nothing trains; run it after quality.py, alone
or not (about 10 minutes of CPU for every row of the three regimes).

    python benchmarks/memorisation.py                      # every regime with finished rows
    python benchmarks/memorisation.py --regime full --n 20000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.inference.generate import generate_images
from cxrgan.metrics import memorisation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import DEFAULT_DATA, REGIMES, RegimeImages, link_split

REPO = Path(__file__).resolve().parents[1]
Z95 = 1.959964


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a share k/n (sound at k = 0, unlike k/n ± z·se)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score(name: str, train: np.ndarray, images: np.ndarray) -> dict[str, Any]:
    result = memorisation(train, images)
    flagged = result.flagged
    low, high = wilson(int(flagged.sum()), len(flagged))
    return {
        "row": name,
        "n": len(flagged),
        "flagged": int(flagged.sum()),
        "share": float(flagged.mean()),
        "low": low,
        "high": high,
        "films": len(set(result.fake_index[flagged].tolist())),
        "median_distance": float(np.median(result.fake_distance)),
        "threshold": result.threshold,
    }


def regime_rows(out: Path) -> list[dict[str, Any]]:
    """quality.py's finished rows of a regime folder (every seed), in file order."""
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.stem != "floor"]
    return [r for r in rows if isinstance(r, dict) and r.get("run")]


def table(regime: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"\n{regime}",
        "| row | n | flagged | memorised share [95 % CI] | training films hit "
        "| median distance to the nearest training film |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['row']} | {r['n']:,} | {r['flagged']:,} | {r['share']:.4f} "
            f"[{r['low']:.4f}, {r['high']:.4f}] | {r['films']:,} | {r['median_distance']:.3f} |"
        )
    limit = rows[0]["threshold"]
    lines.append(f"\nAn image nearer than {limit:.3f} to a training film counts as memorised.")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--regime", default=",".join(REGIMES), help="comma list of regimes")
    p.add_argument("--n", type=int, default=10_000, help="generated images per row")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench-quality",
                   help="quality.py's output folder")  # fmt: skip
    a = p.parse_args()
    if not a.data.is_dir():
        sys.exit(f"data not found: {a.data}")
    folders = link_split(a.data, a.out)
    text = ""
    for name in a.regime.split(","):
        rows = regime_rows(a.out / name)
        if not rows:
            continue
        sets = RegimeImages(folders, REGIMES[name])
        scored = [score("held-out films of new patients", sets.train, sets.heldout)]
        for r in rows:
            run = a.out / name / "runs" / r["run"]
            fake = generate_images(run, a.n, seed=1)  # quality.py's checkpoint and noise seed
            scored.append(score(f"{r['row']} (seed {r.get('seed', 0)})", sets.train, fake))
            print(f"  {name} {r['run']}: {scored[-1]['share']:.4f}", flush=True)
        text += table(name, scored) + "\n"
        (a.out / name / "memorisation.json").write_text(json.dumps(scored, indent=2) + "\n")
    print(text)
    (a.out / "memorisation.md").write_text(text)


if __name__ == "__main__":
    main()
