"""`artifygan translate`: cartoonize files and folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="cartoonize image files and folders",
                       description="Translate images (folders are searched recursively). A bad file is "
                                   "reported on one line and the rest still finish.")
    p.add_argument("inputs", nargs="+", help="image files and/or folders")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("-m", "--model", help="snapshot folder, or a run folder (newest snapshot)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-side", type=int, default=1536, help="larger inputs are processed at this size")
    p.add_argument("--resize", type=int, help="process at this longer side (output keeps input size)")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="onnx = onnxruntime on CPU (auto: when the snapshot has model.onnx)")
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (GPU users)")
    p.add_argument("--ext", help="output format by suffix (png, jpg, webp); default: the input's")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..inference.batch import translate_paths
    from ..inference.cartoonizer import Cartoonizer

    cz = Cartoonizer.from_pretrained(args.model, device=args.device, backend=args.backend,
                                     batch_size=args.batch_size,
                                     max_side=args.max_side, resize=args.resize, compile=args.compile)
    report = translate_paths(cz, args.inputs, args.out, ext=args.ext, progress=not args.quiet)
    for _, msg in report.failed:
        print(f"error: {msg}", file=sys.stderr)
    print(f"wrote {len(report.written)} image(s) to {args.out}"
          + (f"; {len(report.failed)} failed" if report.failed else ""))
    return 1 if report.failed else 0
