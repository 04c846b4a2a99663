"""Core CPU figures of the GPU-speed issue, each pair measured in the same run on the same machine:

- inference at 256² through the public Cartoonizer (torch eager; and onnxruntime for the small nets),
  every generator against the paper-size CartoonGAN generator in torch eager (target: fast ≥ 20×);
- the full training step at 128² (batch 8, Inception content, the real loop): the new recipe
  (configs/selfie2anime_fast.yaml's models and losses) against today's (configs/selfie2anime_light.yaml's)
  (target ≥ 3×).

    python benchmarks/bench_core.py [--threads N] [--train-steps 10] [--skip-train] [--skip-inference]
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
import yaml

from artifygan.bench_train import bench_train
from artifygan.export import export_onnx
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.models import GENERATORS
from artifygan.models.flops import count_macs, count_params

# each recipe's model and loss sections (configs/selfie2anime_*.yaml): the teacher, its cleanup and the
# extra losses cost time too; the data does not change the step's cost (a synthetic set stands in)
SPEED_KEYS = ("channels_last", "precision", "compile")  # train.* keys that change a step's cost
RECIPES = {"today (light)": "configs/selfie2anime_light.yaml", "new (fast)": "configs/selfie2anime_fast.yaml"}


def load_recipe(path: str) -> tuple[str, tuple[str, ...]]:
    """(generator name, the recipe file's model.*, loss.* and the step-speed train.* keys as dotted overrides,
    values as JSON, which YAML reads)."""
    doc = yaml.safe_load(Path(path).read_text())
    overrides = tuple(f"{section}.{k}={json.dumps(v)}" for section in ("model", "loss")
                      for k, v in (doc.get(section) or {}).items())
    overrides += tuple(f"train.{k}={json.dumps(v)}" for k, v in (doc.get("train") or {}).items()
                       if k in SPEED_KEYS)
    return doc["model"]["generator"], overrides


def inference_img_per_s(name: str, size: int, batch: int, backend: str, seconds: float = 8.0) -> float:
    torch.manual_seed(0)
    g = GENERATORS.build(name)
    with tempfile.TemporaryDirectory() as tmp:
        onnx = export_onnx(g, Path(tmp) / "g.onnx") if backend == "onnx" else None
        cz = Cartoonizer(g, device="cpu", batch_size=batch, onnx_path=onnx)
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(batch)]
        cz.translate(images)  # warm-up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or n < 2 * batch:
            cz.translate(images)
            n += batch
        return n / (time.perf_counter() - t0)


def inference_table() -> None:
    print("| generator | backend | params | GMACs @256² | img/s @256² (b=1) | × cartoongan torch |")
    print("|---|---|---|---|---|---|")
    base = inference_img_per_s("cartoongan", 256, 1, "torch")
    g = GENERATORS.build("cartoongan")
    print(f"| cartoongan | torch | {count_params(g) / 1e6:.2f}M | {count_macs(g, 256) / 1e9:.2f} | {base:.2f} | 1.0 |",
          flush=True)
    for name in ("fast", "light"):
        g = GENERATORS.build(name)
        for backend in ("torch", "onnx"):
            rate = inference_img_per_s(name, 256, 1, backend)
            print(f"| {name} | {backend} | {count_params(g) / 1e6:.2f}M | {count_macs(g, 256) / 1e9:.2f} | "
                  f"{rate:.2f} | {rate / base:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-inference", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    if not args.skip_inference:
        inference_table()
    if args.skip_train:
        return
    print("\n| recipe | init step img/s @128² (b=8) | full (adversarial) step img/s @128² (b=8) | peak RSS GB |")
    print("|---|---|---|---|")
    rates = {}
    for label, recipe in RECIPES.items():
        model, overrides = load_recipe(recipe)
        row = bench_train(model, size=128, batch=8, steps=args.train_steps, device="cpu", overrides=overrides,
                          workers=1)
        rates[label] = row.adv_img_per_s
        print(f"| {label} | {row.init_img_per_s:.2f} | {row.adv_img_per_s:.2f} | {row.peak_mem_gb:.2f} |", flush=True)
    print(f"\nfull training step: new recipe is {rates['new (fast)'] / rates['today (light)']:.2f}× today's")


if __name__ == "__main__":
    main()
