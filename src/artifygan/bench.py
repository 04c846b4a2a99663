"""`artifygan bench`: speed and memory of generators per backend and image size, measured in one run.

For each generator (the light one and the paper-size cartoongan, same run, same machine): parameters,
GMACs, latency at batch 1, throughput at the best batch, peak memory; per backend (torch eager,
onnxruntime on CPU, torch on GPU when present, bf16). All through the Cartoonizer's network stage
(``forward_bytes``: a float batch in, uint8 images out, as ``translate`` runs it).
"""

from __future__ import annotations

import ctypes
import gc
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .device import seeded
from .inference.cartoonizer import Cartoonizer
from .models import GENERATORS
from .models.flops import count_macs, count_params

# Dense bf16 tensor-core peaks (no sparsity), FLOP/s, from the vendors' datasheets.
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12,
             "RTX 4090": 165e12, "RTX 3090": 71e12}


@dataclass
class Row:
    model: str
    backend: str
    size: int
    params: int
    gmacs: float
    latency_ms: float
    throughput: float
    best_batch: int
    peak_mem_mb: float
    tflops_share: float | None = None


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _release_freed_memory() -> None:
    """glibc keeps freed memory for reuse; hand it back to the system (Linux/glibc; elsewhere nothing)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """Peak resident memory above the starting point, sampled every 5 ms (Linux; 0 elsewhere)."""

    def __enter__(self) -> PeakRSS:
        self.ok = Path("/proc/self/statm").exists()
        _release_freed_memory()  # memory an earlier row freed but kept would be reused unseen (a 0 MB row)
        self.base = self.peak = _rss_mb() if self.ok else 0.0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop and self.ok:
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        self._stop = True
        self._t.join()

    @property
    def mb(self) -> float:
        return self.peak - self.base


def _time(cz: Cartoonizer, batch: int, size: int, seconds: float) -> list[float]:
    x = torch.rand(batch, 3, size, size) * 2 - 1
    cz.forward_bytes(x)  # warm-up (and cuDNN / ORT graph set-up)
    sync = torch.cuda.synchronize if cz.device.type == "cuda" else (lambda: None)
    times: list[float] = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 3:
        t0 = time.perf_counter()
        cz.forward_bytes(x)
        sync()
        times.append(time.perf_counter() - t0)
    return times


def bench_model(name: str, backend: str, sizes: tuple[int, ...], batches: tuple[int, ...],
                seconds: float, compile: bool = False) -> list[Row]:
    """``compile``: torch backends run ``torch.compile`` (default mode); the row's backend says so."""
    with seeded(0):  # the same weights every run
        g = GENERATORS.build(name)
    params, rows = count_params(g), []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = None
        if backend == "onnx":
            from .export import export_onnx

            onnx_path = export_onnx(g, Path(tmp) / "g.onnx")
        compiled = compile and backend != "onnx"
        cz = Cartoonizer(g, device="cuda" if backend == "cuda" else "cpu", onnx_path=onnx_path, compile=compiled)
        if onnx_path is not None:  # onnxruntime takes its own thread count, not torch's (--threads)
            from .export import ort_session

            cz.session = ort_session(onnx_path, torch.get_num_threads())
        label = backend + ("+compile" if compiled else "")
        for size in sizes:
            macs = count_macs(GENERATORS.build(name), size)
            if cz.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            with PeakRSS() as mem:
                lat = statistics.median(_time(cz, 1, size, seconds))
                best, best_b = 0.0, 1
                for b in batches:
                    tput = b / statistics.median(_time(cz, b, size, seconds))
                    if tput > best:
                        best, best_b = tput, b
            peak = torch.cuda.max_memory_allocated() / 2**20 if cz.device.type == "cuda" else mem.mb
            share = None
            if cz.device.type == "cuda":
                dev = torch.cuda.get_device_name()
                peak_flops = next((v for k, v in BF16_PEAK.items() if k in dev), None)
                share = 2 * macs * best / peak_flops if peak_flops else None
            rows.append(Row(name, label, size, params, macs / 1e9, 1000 * lat, best, best_b, peak, share))
    return rows


def run_bench(models: tuple[str, ...] = ("fast", "light", "cartoongan"), sizes: tuple[int, ...] = (256, 512),
              batches: tuple[int, ...] = (1, 4), seconds: float = 2.0, backends: tuple[str, ...] | None = None,
              compile: bool = False) -> list[Row]:
    if backends is None:
        import importlib.util

        backends = ("torch",) + (("onnx",) if importlib.util.find_spec("onnxruntime") else ())
        backends += ("cuda",) if torch.cuda.is_available() else ()
    return [r for m in models for be in backends for r in bench_model(m, be, sizes, batches, seconds, compile)]


def speed_ratio(rows: list[Row], model: str, baseline: str, backend: str, size: int) -> float:
    """Throughput of ``model`` over ``baseline``'s, same backend and size (same run)."""
    by = {(r.model, r.backend, r.size): r for r in rows}
    return by[(model, backend, size)].throughput / by[(baseline, backend, size)].throughput


def format_rows(rows: list[Row]) -> str:
    lines = [f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores"
             + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""), "",
             "| model | backend | size | params | GMACs | latency b=1 (ms) | img/s (best batch) | peak MB "
             "| % bf16 peak |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        share = f"{100 * r.tflops_share:.1f}%" if r.tflops_share is not None else "–"
        lines.append(f"| {r.model} | {r.backend} | {r.size}² | {r.params / 1e6:.2f}M | {r.gmacs:.1f} | "
                     f"{r.latency_ms:.0f} | {r.throughput:.2f} (b={r.best_batch}) | {r.peak_mem_mb:.0f} | {share} |")
    by = {(r.model, r.backend, r.size): r for r in rows}
    ratios = [f"{be} {s}²: {m} is {speed_ratio(rows, m, 'cartoongan', be, s):.1f}× faster than cartoongan"
              for (m, be, s) in by if m != "cartoongan" and ("cartoongan", be, s) in by]
    return "\n".join([*lines, "", *ratios])
