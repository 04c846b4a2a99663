"""`artifygan demo`: the README's main job."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import POSITIVE

DEMO_STEPS = 30


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the README's main job: cartoonize the bundled example photo(s) "
                                     "(--train: a short training run)")
    p.add_argument("--data", type=Path, help="folder with trainA/ (photos) and trainB/ (cartoons); "
                                             "default $ARTIFYGAN_DATA, ../shared/data/selfie2anime, or synthetic")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--steps", type=POSITIVE, default=DEMO_STEPS, help="training steps of the --train demo")
    p.add_argument("--train", action="store_true",
                   help="run the short training demo instead of cartoonizing the bundled examples")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import cartoonize_examples, run_demo
    from ..pretrained import default_model

    if args.train or default_model() is None:
        run_demo(args.data, args.out, args.steps)
    else:
        if args.data is not None or args.steps != DEMO_STEPS:  # they were ignored without a word
            print("note: --data and --steps are for the training demo (--train); the bundled model "
                  "cartoonizes the examples")
        cartoonize_examples(args.out)
    return 0
