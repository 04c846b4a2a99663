"""Resume state (G, D, EMA, optimizers, scaler, step, RNG), written atomically, loaded without pickle.

Inference snapshots live in ``models/snapshot.py``; this file is what ``--resume`` needs to continue
a run exactly.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..imageio import atomic_write_bytes
from ..models import GENERATORS, load_generator
from ..models.snapshot import resolve_snapshot

STATE_VERSION = 1


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore RNG states; they must be CPU ByteTensors whatever ``map_location`` the state was loaded with."""
    torch.set_rng_state(state["torch"].to("cpu", torch.uint8))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.to("cpu", torch.uint8) for s in state["cuda"]])


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({"version": STATE_VERSION, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training state to resume from")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: corrupt training state ({str(exc).splitlines()[0]})") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: not an ArtifyGAN training state (version {STATE_VERSION})")
    return state


def restore(path: str | Path, state: dict[str, Any], parts: dict[str, Any]) -> None:
    """Load each of ``parts`` (name in the state → module, optimizer or scaler) from a resume state. A run
    resumed with another architecture is one line naming the part, not torch's size-mismatch traceback; a
    gradient scaler saved disabled (bf16, fp32) and resumed enabled (fp16) starts fresh."""
    for name, part in parts.items():
        saved = state[name]
        if isinstance(part, torch.amp.GradScaler) and not saved:
            continue  # saved by a disabled scaler: nothing to restore, fp16 scaling starts at its default
        try:
            part.load_state_dict(saved)
        except (RuntimeError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()
            why = next((ln.strip() for ln in first[1:] if ln.strip()), first[0] if first else type(exc).__name__)
            raise ValueError(f"{path}: its {name} does not fit this run's settings ({why[:200]}); resume with the "
                             "run's own settings (its config.yaml) or start a new run") from None


def warm_start(G: nn.Module, snapshot: str | Path, generator: str, generator_args: dict[str, Any]) -> None:
    """Copy a snapshot's generator weights into ``G`` (``model.init``): fine-tuning a trained model.

    The snapshot must hold the same generator with the same arguments; anything else is a one-line error
    naming it, not a silent partial load.
    """
    net, meta = load_generator(resolve_snapshot(snapshot))  # a snapshot, a run's newest, or "default"
    theirs = (meta.get("generator"), GENERATORS.make_config(meta["generator"], meta.get("generator_args")))
    if theirs != (generator, GENERATORS.make_config(generator, generator_args)):  # defaults filled in on both
        raise ValueError(f"model.init={snapshot}: holds generator {meta.get('generator')!r} "
                         f"{meta.get('generator_args') or {}}, this run builds {generator!r} {generator_args}")
    G.load_state_dict(net.state_dict(), strict=True)


def microbatch_seed(seed: int, step: int, micro: int, rank: int = 0, world: int = 1, accum: int = 1) -> int:
    """The seed of one micro-batch's random draws (crack negatives, the side discriminators' patch places).

    A function of the step, so a resumed run draws what the uninterrupted one would, and of the rank, so
    data-parallel ranks draw differently (one rank: the seeds single-device runs always had). Steps are
    31 seeds apart, or ``accum`` apart when a step has more micro-batches than that, so no two
    micro-batches of a run share a seed and runs of up to 31 micro-batches keep their old streams.
    """
    return (seed * 7919 + step * max(31, accum) + micro) * world + rank


def set_lr_betas(optimizers: list[tuple[torch.optim.Optimizer, float | None]], betas: tuple[float, ...]) -> None:
    """A loaded optimizer state brings back the lr and betas it was saved with; a resume that changes them
    (train.lr_d, train.betas, written in config.yaml) must train with the new ones. lr None: left as it is
    (set per step elsewhere)."""
    for opt, lr in optimizers:
        for group in opt.param_groups:
            group["betas"] = tuple(betas)
            if lr is not None:
                group["lr"] = lr
