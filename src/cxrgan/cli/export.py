"""`cxrgan export RUN --out BUNDLE`: a release bundle with a model card."""

from __future__ import annotations

import argparse
from pathlib import Path

from cxrgan.errors import CxrganError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a release bundle: EMA generator, model card, load.py, samples (and ONNX)",
        description="Write BUNDLE/ for publishing a run's generator as it is: the EMA "
        "generator's weights (safetensors) and model spec, its architecture as plain PyTorch "
        "source (generator.py, traced with torch.fx: loading runs no pickle), a load.py that "
        "samples it with torch + safetensors alone, a sample grid and a README.md model card "
        "(YAML front matter with license, tags, datasets) built from the run's files: training "
        "data, settings, time and device, held-out quality and memorisation from "
        "RUN/evaluation.json (cxrgan evaluate --real HELDOUT --fake RUN --json "
        "RUN/evaluation.json), and the Turing test's results when `cxrgan turing score` linked "
        "them. See docs/export.md.",
    )
    p.add_argument("path", type=Path, metavar="RUN", help="a run directory written by train")
    p.add_argument("--out", type=Path, required=True, metavar="BUNDLE", help="a new folder")
    p.add_argument("--checkpoint", default="last", help="which checkpoint (default last)")
    p.add_argument(
        "--license",
        default=None,
        help="the license id for the model card (default: cc-by-4.0 for the Kermany data, "
        "else other)",
    )
    p.add_argument(
        "--onnx",
        action="store_true",
        help="also write BUNDLE/generator.onnx: the generator in eval mode on its standing "
        "statistics, inputs latent (N, z_dim) and, for a conditional run, class_index (N,), "
        "any batch size N; checked with onnxruntime against torch before it is kept. Needs the "
        "optional extra onnx (onnx, onnxruntime). See docs/export.md",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: torch, safetensors and Pillow load only when a bundle is written
    from cxrgan.study.bundle import export_bundle

    if not (args.path / "config.json").is_file():
        raise CxrganError(f"{args.path} is not a run directory (no config.json)")
    out = export_bundle(args.path, args.out, args.checkpoint, args.license, onnx=args.onnx)
    print(f"wrote {out} (model card: {out / 'README.md'}; try: python {out / 'load.py'})")
    return 0
