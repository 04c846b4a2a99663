"""`artifygan bench`: params, GMACs, latency, throughput and memory per backend and size."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .common import POSITIVE, bounded

BACKENDS = ("torch", "onnx", "cuda")


def _ints(low: int, multiple: int = 1) -> Callable[[str], tuple[int, ...]]:
    """A comma-separated list of integers, each at least ``low`` and a multiple of ``multiple``: one argparse
    line otherwise (a size of 0 or 7 was a torch traceback, a batch of 0 a throughput of 0)."""
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(t) for t in text.split(",") if t.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: integers separated by commas, e.g. 256,512") from None
        bad = [v for v in values if v < low or v % multiple]
        if not values or bad:
            what = f"at least {low}" + (f" and a multiple of {multiple}" if multiple > 1 else "")
            raise argparse.ArgumentTypeError(f"{text!r}: each must be {what}")
        return values
    return parse


def _backends(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names or set(names) - set(BACKENDS):  # an unknown one ran torch under its name
        raise argparse.ArgumentTypeError(f"{text!r}: choose among {', '.join(BACKENDS)}")
    return names


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed/memory table: generators per backend; --train adds the training step")
    p.add_argument("--models", default="fast,light,cartoongan")
    p.add_argument("--sizes", type=_ints(32, 8), default=(256, 512), help="e.g. 256,512 (multiples of 8)")
    p.add_argument("--batches", type=_ints(1), default=(1, 4), help="batch sizes tried for throughput")
    p.add_argument("--backends", type=_backends, help="torch,onnx,cuda (default: all available)")
    p.add_argument("--seconds", type=bounded(float, 0.01, 3600), default=2.0, help="measuring time per point")
    p.add_argument("--compile", action="store_true", help="torch backends: torch.compile the generator (default mode)")
    p.add_argument("--threads", type=POSITIVE, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--train", action="store_true",
                   help="also the full training step (G + D + content, both phases) per generator and device")
    p.add_argument("--train-size", type=int, default=256, help="training crop size for --train")
    p.add_argument("--train-batch", type=int, default=8, help="per-step batch for --train")
    p.add_argument("--train-steps", type=int, default=10, help="measured steps per phase (after 3 warm-up steps)")
    p.add_argument("--train-devices", help="cpu,cuda (default: cpu, and cuda when present)")
    p.add_argument("--no-inference", action="store_true", help="with --train: only the training table")
    p.add_argument("overrides", nargs="*", help="config overrides for --train, e.g. train.compile=true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..bench import format_rows, run_bench

    if args.threads:
        torch.set_num_threads(args.threads)
    models = tuple(args.models.split(","))
    from ..models import GENERATORS

    if unknown := [m for m in models if m not in GENERATORS.names()]:  # before minutes of measuring the others
        raise ValueError(f"unknown generator {unknown[0]!r}; choose among: {', '.join(GENERATORS.names())}")
    if args.overrides and not args.train:
        raise ValueError("config overrides only apply to --train")
    if args.no_inference and not args.train:
        raise ValueError("--no-inference leaves nothing to measure without --train")
    if not args.no_inference:
        print(format_rows(run_bench(models, args.sizes, args.batches, args.seconds, args.backends,
                                             compile=args.compile)), flush=True)
    if args.train:
        from ..bench_train import format_train_rows, run_train_bench

        devices = tuple(args.train_devices.split(",")) if args.train_devices else None
        rows = run_train_bench(models, args.train_size, args.train_batch, args.train_steps,
                               devices=devices, overrides=tuple(args.overrides))
        print("\nTraining step (the real loop on a synthetic set; inception content unless overridden):\n")
        print(format_train_rows(rows))
    return 0
