"""Device choice shared by training, inference and benchmarks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import nn


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """The CPU RNG seeded for the block (networks built in it get the same weights every run), and the
    caller's stream put back after: a library call must not reseed a process (a server's threads share it)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def to_memory_format(module: nn.Module, fmt: torch.memory_format) -> nn.Module:
    """``module.to(memory_format=fmt)``: torch's type stubs omit this valid overload of ``Module.to``."""
    return module.to(memory_format=fmt)  # type: ignore[call-overload]


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """'auto' → this rank's CUDA device if there is one, else Apple MPS, else CPU."""
    if name != "auto":
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda, cuda:N or mps") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
            raise ValueError(f"device {name!r} asked for, but this torch {torch.__version__} has {build}; "
                             "use cpu or auto")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device {name!r} asked for, but MPS is not available here; use cpu or auto")
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", local_rank)
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def adam(params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float],
         device: torch.device) -> torch.optim.Adam:
    """Adam; on CUDA the fused kernel (one launch per step instead of several per parameter group: the
    small networks here have many small tensors, and their optimizer steps were a host-bound tail)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, **({"fused": True} if device.type == "cuda" else {}))
