"""The ``artifygan`` command: one argparse group; each subcommand lives in its own small function.

Heavy imports (torch, models) happen inside the subcommands so ``artifygan --help`` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a generator (single process, or under torchrun for DDP)",
                       description="Train or resume a run. Overrides are dotted keys: train.lr_g=1e-4 "
                                   "data.size=128 model.generator_args.n_blocks=4")
    p.add_argument("overrides", nargs="*", help="dotted config overrides, section.key=value")
    p.add_argument("-c", "--config", type=Path, help="YAML config (see configs/)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run folder exactly")
    p.add_argument("--run-root", type=Path, default=Path("runs"), help="where numbered run folders go")
    p.add_argument("--name", help="run folder suffix (default: generator-size)")
    p.add_argument("--stop-at-step", type=int, help="save state and stop at this step (resume later)")
    p.add_argument("--time-limit", type=float, metavar="MINUTES", help="save state and stop after this long")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from .config import load_config
    from .training.loop import load_run_config, train

    if args.resume is not None:
        if args.config is not None:
            logging.getLogger("artifygan").warning("--resume uses the run's own config.yaml; ignoring -c")
        cfg = load_run_config(args.resume, args.overrides)
    else:
        cfg = load_config(args.config, args.overrides)
    run = train(cfg, run_root=args.run_root, resume=args.resume, name=args.name,
                stop_at_step=args.stop_at_step,
                time_limit_s=args.time_limit * 60 if args.time_limit is not None else None,
                progress=not args.no_progress)
    print(f"run folder: {run}")
    return 0


def _add_translate(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--ext", help="output format by suffix (png, jpg, webp); default: the input's")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_translate)


def cmd_translate(args: argparse.Namespace) -> int:
    from .inference.batch import translate_paths
    from .inference.cartoonizer import Cartoonizer

    cz = Cartoonizer.from_pretrained(args.model, device=args.device, batch_size=args.batch_size,
                                     max_side=args.max_side, resize=args.resize)
    report = translate_paths(cz, args.inputs, args.out, ext=args.ext, progress=not args.quiet)
    for _, msg in report.failed:
        print(f"error: {msg}", file=sys.stderr)
    print(f"wrote {len(report.written)} image(s) to {args.out}"
          + (f"; {len(report.failed)} failed" if report.failed else ""))
    return 1 if report.failed else 0


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="raw datasets (CelebA, COCO, Safebooru, folders) → a training set",
                       description="SOURCE is KIND:PATH (celeba, coco, safebooru, photos, cartoons) or a PATH "
                                   "whose layout is recognised. Re-running resumes; finished items are skipped.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("-o", "--out", type=Path, required=True, help="prepared dataset folder")
    p.add_argument("--size", type=int, default=256, help="output resolution (square crops)")
    g = p.add_argument_group("faces")
    g.add_argument("--photo-faces", choices=["detect", "none"], default="detect",
                   help="detect: YuNet + eye alignment; none: whole image, square resize")
    g.add_argument("--cartoon-faces", choices=["auto", "detect", "none"], default="auto",
                   help="detect: anime-face cascade; none: already cropped; auto: detect for safebooru only")
    g.add_argument("--min-face", type=int, default=32, help="minimum face width in source pixels")
    g.add_argument("--min-score", type=float, default=0.8, help="minimum YuNet detection score")
    g.add_argument("--margin", type=float, default=0.0, help="extra room around faces (0.5 = 50%% more)")
    g.add_argument("--yunet", help="YuNet .onnx (else $ARTIFYGAN_YUNET, cache, download)")
    g.add_argument("--anime-cascade", help="lbpcascade_animeface.xml (else $ARTIFYGAN_ANIME_CASCADE, ...)")
    g = p.add_argument_group("dataset filters")
    g.add_argument("--attr", action="append", default=[], metavar="NAME=±1", help="CelebA attribute filter")
    g.add_argument("--celeba-variant", choices=["auto", "aligned", "wild"], default="auto")
    g.add_argument("--splits", help="keep only these official splits, e.g. train,val")
    g.add_argument("--coco-categories", default="person")
    g.add_argument("--coco-min-area", type=float, default=4096.0, help="minimum instance area (pixels)")
    g.add_argument("--coco-crowd", action="store_true", help="keep crowd annotations")
    g.add_argument("--coco-mode", choices=["whole", "instances"], default="whole")
    g.add_argument("--tags", default="", help="Safebooru: required tags, comma separated")
    g.add_argument("--exclude-tags", default="", help="Safebooru: excluded tags, comma separated")
    g.add_argument("--rating", help="Safebooru: allowed ratings, e.g. safe,general")
    g.add_argument("--safebooru-meta", help="Safebooru posts CSV/JSON (default: the one in the folder)")
    g.add_argument("--limit", type=int, help="only the first N items of each source (quick trials)")
    g = p.add_argument_group("output")
    g.add_argument("--val-fraction", type=float, default=0.05, help="for data without an official split")
    g.add_argument("--no-smooth", action="store_true", help="skip edge-smoothed copies of cartoons")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    g.add_argument("--shards", type=int, default=0, metavar="N", help="also write WebDataset tars of N samples")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_prepare)


def _csv(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def cmd_prepare(args: argparse.Namespace) -> int:
    from .data.prepare import PrepareOptions, format_summary, prepare
    from .data.shards import write_shards
    from .data.sources import ReaderOptions, read_sources

    attrs = {}
    for a in args.attr:
        name, _, val = a.partition("=")
        if val not in ("1", "-1", "+1"):
            raise ValueError(f"--attr {a!r}: expected NAME=1 or NAME=-1")
        attrs[name] = int(val)
    ropts = ReaderOptions(attrs, args.celeba_variant, _csv(args.splits) or None, _csv(args.coco_categories),
                          args.coco_min_area, args.coco_crowd, args.coco_mode, _csv(args.tags),
                          _csv(args.exclude_tags), _csv(args.rating) or None, args.safebooru_meta, args.limit)
    popts = PrepareOptions(args.size, args.photo_faces, args.cartoon_faces, args.min_face, args.min_score,
                           args.margin, args.val_fraction, yunet=args.yunet, anime_cascade=args.anime_cascade,
                           smooth=not args.no_smooth, workers=args.workers)
    summary = prepare(read_sources(args.sources, ropts), args.out, popts, progress=not args.quiet)
    print(format_summary(summary))
    if args.shards:
        print(f"wrote {len(write_shards(args.out, args.shards))} WebDataset shard(s) to {args.out / 'shards'}")
    o = args.out
    print(f"\ntrain with: artifygan train -c configs/default.yaml data.photos=[{o}/train/photos] "
          f"data.cartoons=[{o}/train/cartoons] data.smoothed=[{o}/train/smoothed]")
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the README's main job: a short real training run, then a translation")
    p.add_argument("--data", type=Path, help="folder with trainA/ (photos) and trainB/ (cartoons); "
                                             "default $ARTIFYGAN_DATA, ../shared/data/selfie2anime, or synthetic")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--steps", type=int, default=30)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.data, args.out, args.steps)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="artifygan", description="Photo → cartoon GAN: train, translate.")
    parser.add_argument("--version", action="version", version=f"artifygan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_prepare, _add_train, _add_translate, _add_demo):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, KeyError) as exc:
        if args.verbose:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
