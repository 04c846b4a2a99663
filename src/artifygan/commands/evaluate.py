"""`artifygan evaluate`: KID/FID, structure and face-part figures of one or more models, with baselines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import ON_OFF, POSITIVE, TTA_MODES, bounded, clean_face_choice, named_models


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="KID/FID + face-structure report of models on held-out photos",
                       description="Translate N held-out photos with each model and score them against N "
                                   "reference cartoons (U-GAT-IT protocol: 100 vs 100 at 256²).")
    p.add_argument("-m", "--model", action="append", default=[], metavar="[NAME=]PATH",
                   help="snapshot or run folder; repeat to compare models side by side")
    p.add_argument("--photos", type=Path, required=True, help="held-out photos (first N by name)")
    p.add_argument("--reference", type=Path, required=True, help="held-out reference cartoons (first N)")
    p.add_argument("-o", "--out", type=Path, required=True, help="report folder (report.json/.md, grid.png)")
    p.add_argument("-n", type=bounded(int, 4), default=100, help="images per set (at least 4)")
    p.add_argument("--size", type=bounded(int, 32, 4096), default=256, help="side the sets are scored at")
    p.add_argument("--resize", choices=["pil_bicubic", "clean", "torch_bilinear"], default="pil_bicubic",
                   help="how images reach 299² for Inception (recorded in the report; clean: clean-fid's float resize)")
    p.add_argument("--process-size", type=POSITIVE, help="models translate at this size (output resized back)")
    p.add_argument("--smooth-input", choices=list(ON_OFF), default="auto",
                   help="the models' input smoothing (auto: as each snapshot records; off: the bare network)")
    p.add_argument("--clean-face", type=clean_face_choice, default="auto", metavar="{auto,on,off,0..1}",
                   help="the models' clean face skin step (auto: as each snapshot records)")
    p.add_argument("--tta", nargs="+", choices=TTA_MODES, default=["off"],
                   help="test-time ensemble(s): each model is scored once per mode given (rows NAME+MODE)")
    p.add_argument("--kid-subsets", type=POSITIVE, default=100)
    p.add_argument("--no-baselines", action="store_true", help="skip the identity / untrained rows")
    p.add_argument("--inception", help="inception-2015-12-05 TorchScript (else $ARTIFYGAN_INCEPTION, wheel, URL)")
    p.add_argument("--yunet", help="YuNet .onnx for the structure metric (else $ARTIFYGAN_YUNET, cache, URL)")
    p.add_argument("--device", default="auto",
                   help="runs the models, the baselines and Inception (auto: CUDA, then MPS, then CPU)")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in -o")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics.evaluate import (
        BASELINES,
        baselines,
        check_report_output,
        evaluate,
        markdown_table,
        snapshot_candidate,
    )

    check_report_output(args.out, [args.photos, args.reference], args.overwrite)  # before any model loads
    cands = []
    models = named_models(args.model)  # two rows of one name could not be told apart in the report
    for name, path in models.items():  # a baseline's name: its grid row showed the baseline's pictures
        if name in BASELINES and not args.no_baselines:
            raise ValueError(f"-m {name}={path}: {name!r} is a baseline's row; name the model otherwise, "
                             f"e.g. -m a={path}")
    rows = [(name if mode == "off" else f"{name}+{mode}", path, mode)
            for name, path in models.items() for mode in dict.fromkeys(args.tta)]
    labels = [label for label, _, _ in rows]
    if twice := next((label for label in labels if labels.count(label) > 1), None):  # -m a=… -m a+x2=… --tta x2
        raise ValueError(f"two rows would be named {twice!r} (a model's name and another's with its ensemble); "
                         "name the models otherwise")
    for label, path, mode in rows:
        cands.append(snapshot_candidate(label, path, args.device, args.backend, args.process_size,
                                        ON_OFF[args.smooth_input], tta=mode, clean_face=args.clean_face,
                                        yunet=args.yunet))
    if not args.no_baselines:
        cands += baselines(args.device)
    if not cands:
        raise ValueError("nothing to evaluate: give --model and/or drop --no-baselines")
    report = evaluate(cands, args.photos, args.reference, args.out, n=args.n, size=args.size, resize=args.resize,
                      inception=args.inception, yunet=args.yunet, kid_subsets=args.kid_subsets,
                      progress=not args.quiet, device=args.device, overwrite=args.overwrite)
    print(markdown_table(report))
    for w in report["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    print(f"report: {args.out / 'report.json'}, {args.out / 'report.md'}, grid: {args.out / 'grid.png'}")
    return 0
