"""`artifygan train`: train or resume a run (single process or under torchrun)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .common import POSITIVE, bounded


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a generator (single process, or under torchrun for DDP)",
                       description="Train or resume a run. Overrides are dotted keys: train.lr_g=1e-4 "
                                   "data.size=128 model.generator_args.n_blocks=4")
    p.add_argument("overrides", nargs="*", help="dotted config overrides, section.key=value")
    p.add_argument("-c", "--config", type=Path, help="YAML config (see configs/)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run folder exactly")
    p.add_argument("--run-root", type=Path, default=Path("runs"), help="where numbered run folders go")
    p.add_argument("--name", help="run folder suffix (default: generator-size)")
    p.add_argument("--stop-at-step", type=POSITIVE, help="save state and stop at this step (resume later)")
    p.add_argument("--time-limit", type=bounded(float, 0), metavar="MINUTES",
                   help="save state and stop after this long")
    p.add_argument("--compile-cache", type=Path, metavar="FILE",
                   help="with train.compile: load compiled graphs from FILE if it exists, write them at the end "
                        "(carry it to the next machine with the same torch and GPU to skip most compiling)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..training.loop import load_run_config, train
    from ..training.rundir import check_run_target

    if args.resume is not None:
        if args.config is not None:
            logging.getLogger("artifygan").warning("--resume uses the run's own config.yaml; ignoring -c")
        cfg = load_run_config(args.resume, args.overrides)
    else:
        cfg = load_config(args.config, args.overrides)
        # before any data or model loads (the library's next_run_dir checks again, after setup)
        check_run_target(args.run_root, args.name or f"{cfg.model.generator}-{cfg.data.size}")
    run = train(cfg, run_root=args.run_root, resume=args.resume, name=args.name,
                stop_at_step=args.stop_at_step,
                time_limit_s=args.time_limit * 60 if args.time_limit is not None else None,
                progress=not args.no_progress, compile_cache=args.compile_cache)
    print(f"run folder: {run}")
    return 0
