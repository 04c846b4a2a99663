"""`artifygan bench`: params, GMACs, latency, throughput and memory per backend and size."""

from __future__ import annotations

import argparse


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(",") if t.strip())


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed/memory table: light vs paper-size generator, per backend")
    p.add_argument("--models", default="light,cartoongan")
    p.add_argument("--sizes", type=_ints, default=(256, 512), help="e.g. 256,512")
    p.add_argument("--batches", type=_ints, default=(1, 4), help="batch sizes tried for throughput")
    p.add_argument("--backends", help="torch,onnx,cuda (default: all available)")
    p.add_argument("--seconds", type=float, default=2.0, help="measuring time per point")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..bench import format_rows, run_bench

    if args.threads:
        torch.set_num_threads(args.threads)
    backends = tuple(args.backends.split(",")) if args.backends else None
    rows = run_bench(tuple(args.models.split(",")), args.sizes, args.batches, args.seconds, backends)
    print(format_rows(rows))
    return 0
