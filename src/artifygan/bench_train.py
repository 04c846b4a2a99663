"""`artifygan bench --train`: the full training step (G + D + content network, both phases) per generator.

Why through the real ``train()`` on a synthetic set, not a hand-written step: the figure must include
everything a run pays (data loader, edge smoothing, EMA, logging), and it must not drift from the loop.
Each phase runs whole windows of ``steps`` steps (the warm-up rounded up to whole windows) and the loop
logs once per window, so the rate of the phase's last window is wall time over ``steps`` steps with one
host sync at its end, as in a real run (logging every step would make the GPU wait for Python each step
and understate a GPU's throughput).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import load_config
from .demo import make_synthetic
from .device import pick_device
from .models import GENERATORS
from .models.flops import count_params
from .training.loop import train


@dataclass
class TrainRow:
    model: str
    device: str
    size: int
    batch: int
    params: int
    init_img_per_s: float  # content-only initialisation step (G + content network)
    adv_img_per_s: float  # adversarial step (D on 3 × batch, then G + D + content network)
    peak_mem_gb: float  # GPU: max allocated; CPU: the process's peak resident memory
    precision: str


def phase_length(steps: int, warmup: int) -> int:
    """Steps per phase: the warm-up rounded up to whole windows of ``steps``, then one measured window."""
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be ≥ 1 and warmup ≥ 0, got {steps} and {warmup}")
    return steps * (1 + -(-warmup // steps))


def _phase_rate(rows: list[dict], phase: str) -> float:
    """img/s of a phase's last logged window (the loop's own figure: images over the window's wall time)."""
    picked = [r for r in rows if r["phase"] == phase]
    if not picked:
        raise ValueError(f"no '{phase}' rows in the training log")
    return float(picked[-1]["img_per_s"])


def bench_train(model: str, size: int = 256, batch: int = 8, steps: int = 10, warmup: int = 3,
                device: str = "auto", overrides: tuple[str, ...] = (), workers: int | None = None) -> TrainRow:
    """One generator's training throughput in both phases, measured by the real loop."""
    dev = pick_device(device)
    workers = workers if workers is not None else min(8, max(1, (os.cpu_count() or 2) - 1))
    n = phase_length(steps, warmup)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_synthetic(Path(tmp) / "data", n=max(2 * batch, 16), size=size)
        cfg = load_config(None, [
            f"data.photos={data / 'trainA'}", f"data.cartoons={data / 'trainB'}", f"data.size={size}",
            f"data.num_workers={workers}", f"train.batch_size={batch}", f"train.init_steps={n}",
            f"train.adv_steps={n}", f"model.generator={model}", f"train.log_every={steps}",
            "train.sample_every=1000000", "train.snapshot_every=1000000", "train.checkpoint_every=1000000",
            f"train.device={dev}", *overrides,
        ])
        run = train(cfg, run_root=Path(tmp) / "runs", progress=False)
        rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    precision = cfg.train.precision if cfg.train.precision != "auto" else ("bf16" if dev.type == "cuda" else "fp32")
    # the row names what was trained: overrides (data.size=48 model.generator=fast) win over the arguments
    g = GENERATORS.build(cfg.model.generator, cfg.model.generator_args)
    return TrainRow(cfg.model.generator, dev.type, cfg.data.size, cfg.train.batch_size, count_params(g),
                    _phase_rate(rows, "init"), _phase_rate(rows, "adversarial"),
                    max(r["peak_mem_gb"] for r in rows), precision)


def run_train_bench(models: tuple[str, ...], size: int, batch: int, steps: int = 10, warmup: int = 3,
                    devices: tuple[str, ...] | None = None, overrides: tuple[str, ...] = ()) -> list[TrainRow]:
    devices = devices or (("cpu", "cuda") if torch.cuda.is_available() else ("cpu",))
    return [bench_train(m, size, batch, steps, warmup, d, overrides) for d in devices for m in models]


def format_train_rows(rows: list[TrainRow]) -> str:
    lines = ["| model | device | size | batch | params | precision | init step img/s | adversarial step img/s "
             "| peak memory (GB; CPU: the process's so far) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.model} | {r.device} | {r.size}² | {r.batch} | {r.params / 1e6:.2f}M | {r.precision} | "
                     f"{r.init_img_per_s:.2f} | {r.adv_img_per_s:.2f} | {r.peak_mem_gb:.2f} |")
    return "\n".join(lines)
