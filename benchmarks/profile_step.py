"""Where a training step's time goes, by operator: `artifygan bench --train` under torch.profiler.

Why: the GPU-speed issue's adversarial step (1,195 img/s on an H100, target 1,500) can only be sped up
where its time is; device time is rare, so one call should bring the whole breakdown back. The table is
the profiler's per-operator self time over the whole bench (warm-up windows included), sorted by the
device's time (the CPU's on a CPU run). One unprofiled bench runs first, so that the profile holds no
first-call kernel loading or cuDNN autotuning (26% of the first H100 profile was "Lazy Function Loading").
The shares are the profiler's own: an operator's row and its kernels' rows count the same time twice, so
the rows do not add up to 100%.

    python benchmarks/profile_step.py [--device cuda] [--size 256] [--batch 64] [--rows 30] [overrides ...]

e.g. `python benchmarks/profile_step.py "model.discriminator_args={base_ch: 16, norm: none, spectral_norm: true}"`
(eager: readable operator names; add `train.compile=true` to see the fused kernels instead).
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from artifygan.bench_train import bench_train, format_train_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("overrides", nargs="*", help="dotted config overrides, as for `artifygan bench --train`")
    ap.add_argument("--model", default="fast")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10, help="steps per timed window (bench --train)")
    ap.add_argument("--rows", type=int, default=30)
    a = ap.parse_args()
    cuda = torch.cuda.is_available() and a.device in ("auto", "cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    bench_train(a.model, a.size, a.batch, 2, warmup=2, device=a.device, overrides=tuple(a.overrides))
    with profile(activities=activities) as prof:
        row = bench_train(a.model, a.size, a.batch, a.steps, warmup=a.steps, device=a.device,
                          overrides=tuple(a.overrides))
    print(format_train_rows([row]), "\n(timed under the profiler: slower than `bench --train`)\n")
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=a.rows))


if __name__ == "__main__":
    main()
