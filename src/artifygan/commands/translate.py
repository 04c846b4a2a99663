"""`artifygan translate`: cartoonize files and folders (faces found and pasted back, or whole images)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import POSITIVE, add_model_args, add_wild_args, build_wild


def _ext(v: str) -> str:
    """``--ext``: a writable format, any case, with or without the dot (JPG and .webp were written as PNG)."""
    from ..imageio import WRITE_FORMATS

    suffix = "." + v.strip().lower().lstrip(".")
    if suffix not in WRITE_FORMATS:
        raise argparse.ArgumentTypeError(f"cannot write {v!r}; choose one of "
                                         f"{', '.join(s.lstrip('.') for s in WRITE_FORMATS)}")
    return suffix


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="cartoonize image files and folders",
                       description="Translate images (folders are searched recursively). A bad file is "
                                   "reported on one line and the rest still finish.")
    p.add_argument("inputs", nargs="+", help="image files and/or folders")
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="output folder (not an input folder; never written over an input file)")
    add_model_args(p)
    p.add_argument("--resize", type=POSITIVE, help="process at this longer side (output keeps input size)")
    p.add_argument("--ext", type=_ext, help="output format by suffix (png, jpg, webp, bmp, tif); default: the "
                                            "input's when it can be written, else png")
    p.add_argument("--side-by-side", action="store_true", help="write input and output next to each other")
    p.add_argument("--json", action="store_true", help="write NAME.EXT.json beside each output: boxes, timings")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files already at the outputs' names (default: leave them and report the input)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_wild_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..inference.batch import check_output, translate_paths

    check_output(args.inputs, args.out)  # before the model loads: a bad -o costs no work
    wild = build_wild(args, resize=args.resize)
    report = translate_paths(wild, args.inputs, args.out, ext=args.ext, progress=not args.quiet,
                             side_by_side=args.side_by_side, sidecar=args.json, overwrite=args.overwrite)
    for _, msg in report.notes:
        print(f"note: {msg}", file=sys.stderr)
    for _, msg in report.failed:
        print(f"error: {msg}", file=sys.stderr)
    print(f"wrote {len(report.written)} image(s) to {Path(args.out).resolve()}"
          + (f"; {len(report.skipped)} skipped" if report.skipped else "")
          + (f"; {len(report.failed)} failed" if report.failed else ""))
    return 1 if report.failed else 0
