"""`artifygan export`: ONNX export of a snapshot (dynamic batch/height/width) with a parity check."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .common import bounded

OPSETS = (11, 23)  # bilinear upsampling as torch computes it needs 11 (9 and 10 export, but differ); 23: torch 2.x


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a snapshot to ONNX (checked against torch)")
    p.add_argument("-m", "--model", required=True, help="snapshot or run folder")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("-o", "--out", help="output file (default: model.onnx inside the snapshot, "
                                                  "where the Cartoonizer picks it up)")
    p.add_argument("--opset", type=bounded(int, *OPSETS), default=17,
                   help=f"ONNX opset, {OPSETS[0]}–{OPSETS[1]} (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import ONNX_NAME, export_onnx, parity
    from ..imageio import file_in_the_way, temp_name
    from ..models import load_generator
    from ..models.snapshot import CONFIG_NAME, WEIGHTS_NAME, resolve_snapshot

    snap = resolve_snapshot(args.model)
    target = Path(args.out).expanduser() if args.out else snap / ONNX_NAME  # --out=~/x: the shell leaves ~
    if target.is_dir() or (args.out or "").endswith(("/", os.sep)):  # "out/models/" is meant as a folder
        raise ValueError(f"{target}: is a folder; give the output file's name, e.g. {target / ONNX_NAME}")
    if blocked := file_in_the_way(target, target.parent):
        raise ValueError(blocked)
    own = [snap / CONFIG_NAME, snap / WEIGHTS_NAME]
    if target.exists() and any(p.exists() and target.samefile(p) for p in own):
        raise ValueError(f"{target}: is the model's own {target.name}; choose another -o")
    if os.path.lexists(target) and not args.overwrite:  # before any work
        raise ValueError(f"{target}: already exists; --overwrite replaces it, or choose another -o")
    generator, meta = load_generator(snap)
    staged = temp_name(target, ".onnx")  # checked before it takes the name: --backend onnx would run a bad one
    try:
        export_onnx(generator, staged, opset=args.opset)
        diff = parity(generator, staged)
        if diff > 1e-3:
            print(f"error: parity check failed ({diff:.2e} > 1e-3); {target} was not written", file=sys.stderr)
            return 1
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    print(f"wrote {target} (opset {args.opset}, dynamic batch/height/width); max |torch - onnxruntime| = {diff:.2e}")
    steps = [f"{section}.{name}" for section in ("preprocess", "postprocess") for name in meta.get(section) or {}]
    if steps:  # the graph is the network alone: a user of the .onnx file alone must apply them too
        print(f"note: the ONNX graph is the network only; this model also records {', '.join(steps)} in "
              f"{snap / 'config.json'}, which artifygan applies around it (Cartoonizer, backend onnx)")
    return 0
