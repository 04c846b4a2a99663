"""Tiled translation of large images: bounded memory, no seams.

Why tiles: the generator's activations at full resolution grow with the pixel count (a 4000×3000
photo would need several GB in eager torch). Tiles of ``tile`` pixels overlap by ``overlap`` and are
blended with linear ramps inside the overlaps, so neither the padding at a tile's edge nor the per-tile
normalisation statistics show as a seam. Only the output accumulator (float32, H×W×4) scales with the
image: ~190 MB for 12 MP.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def tile_starts(length: int, tile: int, overlap: int, align: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` overlapping by at least ``overlap``."""
    if length <= tile:
        return [0]
    step = max(align, (tile - overlap) // align * align)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)  # last tile flush with the edge (its overlap is larger)
    return sorted(set(starts))


def ramp(n: int, lead: int, trail: int) -> np.ndarray:
    """1-D blend weights: rise over ``lead`` pixels, fall over ``trail`` pixels, never exactly 0."""
    w = np.ones(n, np.float32)
    if lead:
        w[:lead] = (np.arange(lead, dtype=np.float32) + 0.5) / lead
    if trail:
        w[n - trail:] = np.minimum(w[n - trail:], (np.arange(trail, 0, -1, dtype=np.float32) - 0.5) / trail)
    return w


def translate_tiled(x: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor], tile: int = 768,
                    overlap: int = 64, align: int = 4, batch_size: int = 1) -> torch.Tensor:
    """(3, H, W) in [-1, 1] → (3, H, W), running ``forward`` on (B, 3, tile, tile) batches.

    H and W must be multiples of ``align`` (the net's stride), as must ``tile``.
    """
    _, h, w = x.shape
    tile = max(align, tile // align * align)
    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap, align), tile_starts(w, tw, overlap, align)
    acc = np.zeros((h, w, 3), np.float32)
    wsum = np.zeros((h, w, 1), np.float32)
    boxes = [(y, x0) for y in ys for x0 in xs]
    for k in range(0, len(boxes), batch_size):
        chunk = boxes[k:k + batch_size]
        out = forward(torch.stack([x[:, y:y + th, x0:x0 + tw] for y, x0 in chunk])).float().numpy()
        for (y, x0), o in zip(chunk, out, strict=True):
            # ramps only towards neighbouring tiles; image borders keep full weight
            i = ys.index(y)
            j = xs.index(x0)
            top = (ys[i - 1] + th - y) if i > 0 else 0
            bottom = (y + th - ys[i + 1]) if i + 1 < len(ys) else 0
            left = (xs[j - 1] + tw - x0) if j > 0 else 0
            right = (x0 + tw - xs[j + 1]) if j + 1 < len(xs) else 0
            wt = ramp(th, top, bottom)[:, None, None] * ramp(tw, left, right)[None, :, None]
            acc[y:y + th, x0:x0 + tw] += o.transpose(1, 2, 0) * wt
            wsum[y:y + th, x0:x0 + tw] += wt
    acc /= wsum
    return torch.from_numpy(acc.transpose(2, 0, 1).copy())
