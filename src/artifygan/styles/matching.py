"""Nearest-neighbour feature matching: a local style loss, the alternative to the Gram loss.

Why: a Gram matrix is one global statistic, so every crop of the output is pushed towards the average
reference crop (bitmoji: peach skin tone and black hatching over hair and background alike). Matching
each output feature to its nearest reference feature (cosine distance, as in neural-neighbour style
transfer) lets each region take the look of the reference regions it already resembles: skin from skin,
hair from hair, background from background.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def flat_features(feat: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B·H·W, C), unit length per row."""
    c = feat.shape[1]
    return F.normalize(feat.float().permute(0, 2, 3, 1).reshape(-1, c), dim=1)


def feature_bank(features: Sequence[torch.Tensor], size: int, generator: torch.Generator) -> torch.Tensor:
    """The references' features of one layer as a bank of at most ``size`` unit rows (a random subset:
    the loss costs rows × bank multiply-adds per step)."""
    rows = torch.cat([flat_features(f) for f in features])
    if rows.shape[0] > size:
        rows = rows[torch.randperm(rows.shape[0], generator=generator)[:size].to(rows.device)]
    return rows


def nn_feature_loss(feat: torch.Tensor, bank: torch.Tensor, coverage: float = 0.0) -> torch.Tensor:
    """Mean cosine distance from each output feature to its nearest reference feature (0 = every
    position looks like some reference position).

    ``coverage`` > 0 adds, at that weight, the distance from each reference feature to its nearest output
    feature (a Chamfer distance when 1). Why: one-sided matching collapses onto the references' commonest
    feature (bitmoji: flat peach everywhere, eyes and mouth gone); the reverse term asks the outputs to
    also hold the rarer ones (outlines, eyes, hair).
    """
    sim = flat_features(feat) @ bank.t()
    loss = (1 - sim.amax(dim=1)).mean()
    if coverage > 0:
        loss = loss + coverage * (1 - sim.amax(dim=0)).mean()
    return loss


__all__ = ["feature_bank", "flat_features", "nn_feature_loss"]
