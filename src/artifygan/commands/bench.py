"""`artifygan bench`: params, GMACs, latency, throughput and memory per backend and size."""

from __future__ import annotations

import argparse


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(",") if t.strip())


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed/memory table: generators per backend; --train adds the training step")
    p.add_argument("--models", default="fast,light,cartoongan")
    p.add_argument("--sizes", type=_ints, default=(256, 512), help="e.g. 256,512")
    p.add_argument("--batches", type=_ints, default=(1, 4), help="batch sizes tried for throughput")
    p.add_argument("--backends", help="torch,onnx,cuda (default: all available)")
    p.add_argument("--seconds", type=float, default=2.0, help="measuring time per point")
    p.add_argument("--compile", action="store_true", help="torch backends: torch.compile the generator (default mode)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
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
    if args.overrides and not args.train:
        raise ValueError("config overrides only apply to --train")
    if not args.no_inference:
        backends = tuple(args.backends.split(",")) if args.backends else None
        print(format_rows(run_bench(models, args.sizes, args.batches, args.seconds, backends,
                                             compile=args.compile)), flush=True)
    if args.train:
        from ..bench_train import format_train_rows, run_train_bench

        devices = tuple(args.train_devices.split(",")) if args.train_devices else None
        rows = run_train_bench(models, args.train_size, args.train_batch, args.train_steps,
                               devices=devices, overrides=tuple(args.overrides))
        print("\nTraining step (the real loop on a synthetic set; inception content unless overridden):\n")
        print(format_train_rows(rows))
    return 0
