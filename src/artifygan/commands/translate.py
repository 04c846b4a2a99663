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
    p.add_argument("--max-side", type=int, default=1536,
                   help="larger inputs are processed at this size (0: full resolution, tiled)")
    p.add_argument("--resize", type=int, help="process at this longer side (output keeps input size)")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="onnx = onnxruntime on CPU (auto: when the snapshot has model.onnx)")
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (GPU users)")
    p.add_argument("--ext", help="output format by suffix (png, jpg, webp); default: the input's")
    g = p.add_argument_group("photos in the wild")
    g.add_argument("--mode", choices=["face", "whole"], default="face",
                   help="face: detect, align, translate and paste back every face (default); whole: the "
                        "whole image, tiled when large")
    g.add_argument("--background", choices=["cartoon", "keep", "blur"], default="cartoon",
                   help="face mode: what surrounds the faces (default: cartoon, the same model on the photo)")
    g.add_argument("--no-face", choices=["whole", "skip"], default="whole",
                   help="face mode, no face found: translate the whole image (default) or skip the file")
    g.add_argument("--max-faces", type=int, default=16, help="translate at most this many faces, largest first")
    g.add_argument("--min-face", type=int, default=24, help="leave faces narrower than this many pixels alone")
    g.add_argument("--face-size", type=int, default=256, help="resolution each aligned face is translated at")
    g.add_argument("--tile", type=int, default=768, help="images larger than this run as overlapping tiles")
    g.add_argument("--yunet", help="YuNet face detector .onnx (default: $ARTIFYGAN_YUNET, cache, download)")
    g.add_argument("--side-by-side", action="store_true", help="write input and output next to each other")
    g.add_argument("--json", action="store_true", help="write NAME.EXT.json beside each output: boxes, timings")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..inference.batch import translate_paths
    from ..inference.cartoonizer import Cartoonizer
    from ..inference.wild import WildCartoonizer, WildOptions

    options = WildOptions(mode=args.mode, background=args.background, no_face=args.no_face,
                          max_faces=args.max_faces, min_face=args.min_face, face_size=args.face_size)
    cz = Cartoonizer.from_pretrained(args.model, device=args.device, backend=args.backend,
                                     batch_size=args.batch_size, max_side=args.max_side, resize=args.resize,
                                     compile=args.compile, tile=args.tile)
    wild = WildCartoonizer(cz, options, yunet=args.yunet)
    if options.mode == "face":
        try:
            wild.detector  # noqa: B018  (load it now: a missing detector is one error, not one per file)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{exc} (or use --mode whole, which needs no face detector)") from None
    report = translate_paths(wild, args.inputs, args.out, ext=args.ext, progress=not args.quiet,
                             side_by_side=args.side_by_side, sidecar=args.json)
    for _, msg in report.notes:
        print(f"note: {msg}", file=sys.stderr)
    for _, msg in report.failed:
        print(f"error: {msg}", file=sys.stderr)
    print(f"wrote {len(report.written)} image(s) to {Path(args.out).resolve()}"
          + (f"; {len(report.skipped)} skipped" if report.skipped else "")
          + (f"; {len(report.failed)} failed" if report.failed else ""))
    return 1 if report.failed else 0
