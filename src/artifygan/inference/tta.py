"""Test-time ensembles: the generator run on mirrored and shifted copies of the photo, outputs averaged.

Why: part of what the generator draws across skin is not tied to the face but to where the pixels fall
(its strided convolutions see a mirrored or a 2-pixel-shifted photo differently). Contours, eyes and
mouth are drawn alike in every copy and survive the mean; lines only one copy draws are halved. On the
default model (docs/default-model-experiments.md, "Test-time ensembles") the mean of the photo and its
shifted mirror image (``x2``) was a little better on every figure of the selfie2anime hold-out and on all
but one Haar face of the CelebA one, for twice the compute; all four combinations (``x4``) a little more,
for four times. By eye the pictures are nearly the same, and speed is a promise of this project: opt-in.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Run = Callable[[torch.Tensor], torch.Tensor]


def _mirrored(run: Run, x: torch.Tensor) -> torch.Tensor:
    return run(x.flip(dims=[3])).flip(dims=[3])


def _shifted(run: Run, x: torch.Tensor, stride: int = 4, by: int = 2) -> torch.Tensor:
    """The output of the photo moved by ``by`` pixels against the network's stride grid, moved back:
    reflect-padded by ``by`` at the top and left and by ``stride - by`` at the bottom and right, so the
    padded size stays a multiple of the stride (2 on every side broke a stride-8 network's skips)."""
    h, w = x.shape[-2:]
    end = max(stride - by, 0)
    y = run(F.pad(x, (by, end, by, end), mode="reflect"))
    return y[..., by:by + h, by:by + w]


def shifted_mirror(run: Run, x: torch.Tensor, stride: int = 4) -> torch.Tensor:
    """``run``'s output on the photo's mirror image shifted by 2 pixels, mapped back onto the photo: the
    second copy of ``x2``, and the twin of ``loss.equivariance`` in training."""
    return _shifted(lambda z: _mirrored(run, z), x, stride)


def _off(run: Run, x: torch.Tensor, stride: int) -> torch.Tensor:
    return run(x)


def _x2(run: Run, x: torch.Tensor, stride: int) -> torch.Tensor:
    """The photo, and its mirror image shifted by 2 pixels: the second copy differs in both ways."""
    return (run(x) + shifted_mirror(run, x, stride)) / 2


def _x4(run: Run, x: torch.Tensor, stride: int) -> torch.Tensor:
    """Every combination of mirrored or not, shifted or not."""
    total = run(x) + _mirrored(run, x) + _shifted(run, x, stride) + shifted_mirror(run, x, stride)
    return total / 4


TTA: dict[str, Callable[[Run, torch.Tensor, int], torch.Tensor]] = {"off": _off, "x2": _x2, "x4": _x4}
PASSES = {"off": 1, "x2": 2, "x4": 4}


def check_tta(mode: str) -> str:
    if mode not in TTA:
        raise ValueError(f"unknown test-time ensemble {mode!r}; choose one of: {', '.join(TTA)}")
    return mode


def ensemble(run: Run, x: torch.Tensor, mode: str = "off", stride: int = 4) -> torch.Tensor:
    """``run`` (a batch (N, 3, H, W) → its outputs) under the ensemble ``mode``: off | x2 | x4; ``stride``:
    the network's (H and W are multiples of it, and its shifted copies keep them so)."""
    return TTA[check_tta(mode)](run, x, stride)


__all__ = ["PASSES", "TTA", "check_tta", "ensemble", "shifted_mirror"]
