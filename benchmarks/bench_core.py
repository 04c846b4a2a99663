"""Core figures: parameters and GMACs at 256² per generator, CPU inference img/s at 256² through the
Cartoonizer (the shared inference path), and training img/s at 128² through the real training loop.

    python benchmarks/bench_core.py [--threads N] [--train-steps 12] [--skip-train]

Prints a markdown table; numbers depend on the machine (it prints what it ran on).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from artifygan.config import load_config
from artifygan.demo import make_synthetic
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.models import GENERATORS
from artifygan.models.flops import count_macs, count_params
from artifygan.training.loop import train


def inference_img_per_s(name: str, size: int, batch: int, seconds: float = 8.0) -> float:
    torch.manual_seed(0)
    cz = Cartoonizer(GENERATORS.build(name), device="cpu", batch_size=batch)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(batch)]
    cz.translate(images)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2 * batch:
        cz.translate(images)
        n += batch
    return n / (time.perf_counter() - t0)


def training_img_per_s(name: str, size: int, steps: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        data = make_synthetic(Path(tmp) / "data", n=max(32, batch * 4))
        cfg = load_config(None, [
            f"data.photos={data / 'trainA'}", f"data.cartoons={data / 'trainB'}", f"data.size={size}",
            "data.num_workers=1", f"train.batch_size={batch}", "train.init_steps=0", f"train.adv_steps={steps}",
            f"model.generator={name}", "train.log_every=1", "train.sample_every=100000",
            "train.snapshot_every=100000", "train.checkpoint_every=100000", "train.device=cpu",
        ])
        run = train(cfg, run_root=Path(tmp) / "runs", progress=False)
        rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
        steady = rows[2:] or rows  # skip warm-up steps
        return float(np.mean([r["img_per_s"] for r in steady]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--train-steps", type=int, default=12)
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| generator | params | GMACs @256² | CPU img/s @256² (b=1) | CPU img/s @256² (b=4) "
          "| train img/s @128² (b=8, inception content) |")
    print("|---|---|---|---|---|---|")
    for name in ("light", "cartoongan"):
        g = GENERATORS.build(name)
        params, macs = count_params(g), count_macs(g, 256)
        b1 = inference_img_per_s(name, 256, 1)
        b4 = inference_img_per_s(name, 256, 4)
        tr = "skipped" if args.skip_train else f"{training_img_per_s(name, 128, args.train_steps, 8):.2f}"
        print(f"| {name} | {params / 1e6:.2f}M | {macs / 1e9:.2f} | {b1:.2f} | {b4:.2f} | {tr} |", flush=True)


if __name__ == "__main__":
    main()
