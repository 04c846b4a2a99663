"""Small device and precision choices of the training loop, kept out of the loop function itself."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from typing import Any, TypeVar

import torch
from torch import nn

from ..config import DataConfig
from ..data.dataset import prepared_framing
from ..input_smoothing import InputSmoothing, recorded_smoothing
from ..models.snapshot import read_snapshot_config, resolve_snapshot
from ..skin_smoothing import SkinSmoothing, recorded_skin_smoothing

log = logging.getLogger("artifygan.train")


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for plain fp32. 'auto' → bf16 on CUDA, fp32 elsewhere."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    table = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if name not in table:
        raise ValueError(f"train.precision: unknown {name!r}; choose auto, fp32, bf16 or fp16")
    return table[name]


def smoothing_on_device(mode: str, dev: torch.device) -> bool:
    """data.smoothing: 'auto' smooths cartoons on a GPU (the CPU loader would starve it), else in the loader."""
    if mode not in ("auto", "loader", "device"):
        raise ValueError(f"data.smoothing: unknown {mode!r}; choose auto, loader or device")
    return mode == "device" or (mode == "auto" and dev.type == "cuda")


def memory_format(channels_last: bool | None, dev: torch.device, g: nn.Module) -> torch.memory_format:
    """train.channels_last: None → on CUDA when the generator says it runs faster that way."""
    if channels_last is None:
        channels_last = dev.type == "cuda" and getattr(g, "prefers_channels_last", False)
    return torch.channels_last if channels_last else torch.contiguous_format


def peak_memory_gb(dev: torch.device) -> float:
    """Peak GPU memory allocated, or the process's peak resident memory on the CPU."""
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def loader_options(num_workers: int, dev: torch.device) -> dict[str, Any]:
    """DataLoader options: at most one worker per core this process may use (torch warns above that, and
    the workers only slow each other), each ignoring stop signals (below)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(num_workers, cores)
    kw: dict[str, Any] = {"num_workers": workers, "pin_memory": dev.type == "cuda"}
    if workers > 0:
        kw |= {"prefetch_factor": 4, "persistent_workers": True, "worker_init_fn": ignore_stop_signals}
    return kw


def ignore_stop_signals(worker_id: int) -> None:
    """Loader workers leave SIGTERM/SIGINT to the main process: a signal sent to the whole process group
    (Ctrl-C, `kill -- -PGID`, a batch scheduler) then ends the run cleanly with its state saved, instead
    of killing a worker and crashing the loop."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def configure_backends(cudnn_benchmark: bool, dev: torch.device) -> None:
    """train.cudnn_benchmark on CUDA (StyleGAN2-ADA does the same): cuDNN's heuristic pick is not always
    the fastest kernel for thin (16-channel, depthwise) convs; timing each shape once costs seconds at start."""
    if dev.type != "cuda":
        return
    torch.backends.cudnn.benchmark = cudnn_benchmark


_Step = TypeVar("_Step", InputSmoothing, SkinSmoothing)


def _own_or_teachers(key: str, own: _Step | None, theirs: _Step | None, teacher: str | None) -> _Step | None:
    """The user's own step if set (warning when it differs from the teacher's), else the teacher's."""
    if own is None and theirs is not None:
        log.info("data.%s: the teacher's recorded %s (model.teacher=%s)", key, theirs.to_meta(), teacher)
        return theirs
    if own is not None and theirs is not None and own != theirs:
        log.warning("data.%s %s differs from the teacher's recorded %s: the teacher sees photos unlike those "
                    "of its own inference", key, own.to_meta(), theirs.to_meta())
    return own


def photo_steps(bilateral: dict[str, Any] | None, skin: dict[str, Any] | None,
                teacher: str | None) -> tuple[InputSmoothing | None, SkinSmoothing | None]:
    """The input steps of the photo crops: data.photo_smoothing and data.photo_skin, else the teacher
    snapshot's recorded ones.

    A teacher must see photos as its own inference does, or it draws the texture its filters remove; the
    student then records the same steps, so its users give it the photos it learned from. The two go as a
    pair: a bilateral filter of the user's own takes the skin step from the user only (none if unset).
    """
    meta = read_snapshot_config(resolve_snapshot(teacher)) if teacher else None
    smoothing = _own_or_teachers("photo_smoothing", InputSmoothing.from_dict(bilateral) if bilateral is not None
                                 else None, recorded_smoothing(meta), teacher)
    own_skin = SkinSmoothing.from_dict(skin) if skin is not None else None
    theirs = recorded_skin_smoothing(meta) if bilateral is None else None
    skin_step = _own_or_teachers("photo_skin", own_skin, theirs, teacher)
    if skin_step is not None and smoothing is None:
        raise ValueError(f"data.photo_skin: runs after the bilateral filter, so it needs data.photo_smoothing "
                         f"(the teacher {teacher} records none)")
    return smoothing, skin_step


def recorded_preprocess(data: DataConfig, smoothing: InputSmoothing | None,
                        skin: SkinSmoothing | None) -> dict[str, Any]:
    """What a run's snapshots record for inference to reproduce: the training resolution, the photos' face
    framing and the input steps the photo crops went through."""
    pre: dict[str, Any] = {"train_size": data.size, "face_framing": dataclasses.asdict(prepared_framing(data.photos))}
    if data.resize is not None:
        pre["train_scale"] = data.resize  # pictures at this short side, cropped to train_size
    if smoothing is not None:
        pre["bilateral"] = smoothing.to_meta()
    if skin is not None:
        pre["skin"] = skin.to_meta()
    return pre


class StopOnSignal:
    """SIGTERM / Ctrl-C end the run at the next step boundary, with state and snapshot saved."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._old: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self._event.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        log.warning("signal %d: stopping after this step (state and snapshot are saved)", signum)
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def restore(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
