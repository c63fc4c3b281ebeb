"""Does D overfit its training images? D's outputs on training and held-out real films, per class.

ADA raises its p when D's mean sign on real images climbs (`augment_p` in metrics.jsonl), and
reads that as D overfitting. It cannot tell that from D simply winning because G got worse: both
push D's outputs on real films up. Held-out films of new patients can: a D that overfits scores
its training films as real and the held-out ones much less so (the gap in StyleGAN2-ADA's
Figure 1); a D that wins because G collapsed scores both alike. Nothing trains; D runs on the
real films without augmentation, its batch norm on batches of real films only, as in training.

    python benchmarks/d_heldout.py runs/bench-utility/run --train runs/bench-utility/split/train \\
        --heldout runs/bench-utility/split/heldout --checkpoints best,last
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from cxrgan.data.folder import ImageSet, load_folder
from cxrgan.data.pixels import from_uint8
from cxrgan.metrics.images import chunks
from cxrgan.models import build_models
from cxrgan.models.base import Discriminator
from cxrgan.training.checkpoint import load_checkpoint

BATCH = 256


def real_logits(d: Discriminator, images: ImageSet, class_ids: torch.Tensor | None) -> torch.Tensor:
    """D's logits of every film, in batches of real films only (batch norm in training mode)."""
    x = from_uint8(torch.from_numpy(np.asarray(images.images))).unsqueeze(1)
    out = []
    for rows in chunks(len(x), BATCH):
        out.append(d(x[rows], None if class_ids is None else class_ids[rows]).flatten())
    return torch.cat(out)


def class_ids(images: ImageSet, classes: tuple[str, ...]) -> torch.Tensor | None:
    """The films' labels as the model's class indices (None for an unconditional D)."""
    if not classes:
        return None
    return torch.tensor([classes.index(images.classes[k]) for k in images.labels])


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run", type=Path, help="a run directory written by cxrgan train")
    p.add_argument("--train", type=Path, required=True, help="the folder the run trained on")
    p.add_argument("--heldout", type=Path, required=True, help="films of patients never trained on")
    p.add_argument("--checkpoints", default="best,last", help="comma list of checkpoint names")
    a = p.parse_args()
    torch.manual_seed(0)
    sets: dict[str, ImageSet] = {}
    print("checkpoint | step | films | class | n | mean sign | mean logit | mean σ")
    for name in a.checkpoints.split(","):
        ckpt = load_checkpoint(a.run / "checkpoints" / f"{name}.safetensors")
        spec = ckpt.model_spec()
        _, d = build_models(spec)
        ckpt.load_model("D", d)
        d.train()  # batch statistics of real films, as D sees them in training
        step = ckpt.meta.get("state", {}).get("counters", {}).get("step", "?")
        for part, folder in (("training", a.train), ("held-out", a.heldout)):
            if part not in sets:
                sets[part] = load_folder(folder, spec.resolution, progress=False)
            images = sets[part]
            ids = class_ids(images, spec.classes)
            with torch.no_grad():
                logits = real_logits(d, images, ids)
            groups = {"all": torch.ones(len(logits), dtype=torch.bool)}
            for k, cname in enumerate(spec.classes):
                assert ids is not None
                groups[cname] = ids == k
            for cname, mask in groups.items():
                o = logits[mask]
                print(f"{name} | {step} | {part} | "
                      f"{cname} | {len(o)} | {o.sign().mean():+.3f} | {o.mean():+.3f} | "
                      f"{torch.sigmoid(o).mean():.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
