"""`artifygan demo`: the README's main job."""

from __future__ import annotations

import argparse
from pathlib import Path


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the README's main job: a short real training run, then a translation")
    p.add_argument("--data", type=Path, help="folder with trainA/ (photos) and trainB/ (cartoons); "
                                             "default $ARTIFYGAN_DATA, ../shared/data/selfie2anime, or synthetic")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--steps", type=int, default=30)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(args.data, args.out, args.steps)
    return 0
