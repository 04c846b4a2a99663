"""`artifygan prepare`: raw datasets → a prepared training set."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .common import FRACTION, NON_NEGATIVE, POSITIVE, bounded


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="raw datasets (CelebA, COCO, Safebooru, folders) → a training set",
                       description="SOURCE is KIND:PATH (celeba, coco, safebooru, photos, cartoons) or a PATH "
                                   "whose layout is recognised. Re-running resumes; finished items are skipped.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("-o", "--out", type=Path, required=True, help="prepared dataset folder")
    p.add_argument("--size", type=bounded(int, 16, 4096), default=256, help="output resolution (square crops), 16–4096")
    g = p.add_argument_group("faces")
    g.add_argument("--photo-faces", choices=["detect", "none"], default="detect",
                   help="detect: YuNet + eye alignment; none: whole image, square resize")
    g.add_argument("--cartoon-faces", choices=["auto", "detect", "none"], default="auto",
                   help="detect: anime-face cascade; none: already cropped; auto: detect for safebooru only")
    g.add_argument("--min-face", type=POSITIVE, default=32, help="minimum face width in source pixels")
    g.add_argument("--min-score", type=bounded(float, 0, 1), default=0.8, help="minimum YuNet detection score")
    g.add_argument("--margin", type=bounded(float, 0), default=0.0, help="extra room around faces (0.5 = 50%% more)")
    g.add_argument("--yunet", help="YuNet .onnx (else $ARTIFYGAN_YUNET, cache, download)")
    g.add_argument("--anime-cascade", help="lbpcascade_animeface.xml (else $ARTIFYGAN_ANIME_CASCADE, ...)")
    g = p.add_argument_group("dataset filters")
    g.add_argument("--attr", action="append", default=[], metavar="NAME=±1", help="CelebA attribute filter")
    g.add_argument("--celeba-variant", choices=["auto", "aligned", "wild"], default="auto")
    g.add_argument("--splits", help="keep only these official splits, e.g. train,val")
    g.add_argument("--coco-categories", default="person")
    g.add_argument("--coco-min-area", type=bounded(float, 0), default=4096.0, help="minimum instance area (pixels)")
    g.add_argument("--coco-crowd", action="store_true", help="keep crowd annotations")
    g.add_argument("--coco-mode", choices=["whole", "instances"], default="whole")
    g.add_argument("--tags", default="", help="Safebooru: required tags, comma separated")
    g.add_argument("--exclude-tags", default="", help="Safebooru: excluded tags, comma separated")
    g.add_argument("--rating", help="Safebooru: allowed ratings, e.g. safe,general")
    g.add_argument("--safebooru-meta", help="Safebooru posts CSV/JSON (default: the one in the folder)")
    g.add_argument("--limit", type=POSITIVE, help="only the first N items of each source (quick trials)")
    g = p.add_argument_group("output")
    g.add_argument("--val-fraction", type=FRACTION, default=0.05,
                   help="for data without an official split: a share from 0 up to, not including, 1")
    g.add_argument("--no-smooth", action="store_true", help="skip edge-smoothed copies of cartoons")
    g.add_argument("--workers", type=POSITIVE, default=os.cpu_count() or 1)
    g.add_argument("--shards", type=NON_NEGATIVE, default=0, metavar="N",
                   help="also write WebDataset tars of N samples")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run)


def _csv(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def run(args: argparse.Namespace) -> int:
    from ..data.prepare import PrepareOptions, format_summary, prepare
    from ..data.shards import write_shards
    from ..data.sources import ReaderOptions, read_sources

    attrs = {}
    for a in args.attr:
        name, _, val = a.partition("=")
        if val not in ("1", "-1", "+1"):
            raise ValueError(f"--attr {a!r}: expected NAME=1 or NAME=-1")
        attrs[name] = int(val)
    if unknown := set(_csv(args.splits)) - {"train", "val", "test"}:  # banana dropped every picture, unsaid
        raise ValueError(f"--splits: {', '.join(sorted(unknown))}: the official splits are train, val and test")
    from ..data.sources import parse_source

    parsed = [parse_source(spec) for spec in args.sources]  # (kind, path): every check below reads these
    kinds = {kind for kind, _ in parsed}
    for flag, given, readers in (("--attr", args.attr, {"celeba"}), ("--splits", args.splits, {"celeba", "coco"}),
                                 ("--tags", args.tags, {"safebooru"}), ("--rating", args.rating, {"safebooru"})):
        if given and not kinds & readers:  # a filter no source reads: it filtered nothing, unsaid
            raise ValueError(f"{flag} filters {' and '.join(sorted(readers))} sources, and none is given")
    ropts = ReaderOptions(attrs, args.celeba_variant, _csv(args.splits) or None, _csv(args.coco_categories),
                          args.coco_min_area, args.coco_crowd, args.coco_mode, _csv(args.tags),
                          _csv(args.exclude_tags), _csv(args.rating) or None, args.safebooru_meta, args.limit)
    popts = PrepareOptions(args.size, args.photo_faces, args.cartoon_faces, args.min_face, args.min_score,
                           args.margin, args.val_fraction, yunet=args.yunet, anime_cascade=args.anime_cascade,
                           smooth=not args.no_smooth, workers=args.workers)
    out = args.out.resolve()
    for kind, path in parsed:  # a folder source is walked on every run: its own output would come back in
        if kind in ("photos", "cartoons") and out.is_relative_to(path.resolve()):
            raise ValueError(f"{args.out}: inside the source folder {path}; the next run would read its own "
                             "output as new pictures: choose -o outside it")
    summary = prepare(read_sources(args.sources, ropts), args.out, popts, progress=not args.quiet)
    print(format_summary(summary))
    if not summary["kept_total"]:
        print(f"error: no picture was kept in {args.out} (the reasons are above); nothing to train on")
        return 1
    if args.shards:
        print(f"wrote {len(write_shards(args.out, args.shards))} WebDataset shard(s) to {args.out / 'shards'}")
    train = args.out / "train"  # only the folders this dataset has: --no-smooth makes no smoothed copies
    parts = [f"data.{name}=[{train / name}]" for name in ("photos", "cartoons", "smoothed") if (train / name).is_dir()]
    if (train / "photos").is_dir() and (train / "cartoons").is_dir():
        print(f"\ntrain with: artifygan train -c configs/default.yaml {' '.join(parts)}")
    else:
        missing = " and ".join(n for n in ("photos", "cartoons") if not (train / n).is_dir())
        print(f"\nnote: {train} has no {missing} yet: training needs both (add their sources and run again)")
    return 0
