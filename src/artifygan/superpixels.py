"""Superpixel flattening in torch, for White-box cartoonization's structure representation.

Why: a cartoon is flat regions with clear boundaries. White-box (Wang & Yu, CVPR 2020) segments its
output into superpixels, fills each with its mean colour, and asks the output's features to match that
flattened copy: regions inside a boundary flatten (skin without strokes), the boundaries themselves
stay. Their segmentation runs on the CPU (scikit-image), one image at a time; this one is a batched
SLIC (Achanta et al., 2012: k-means on colour and position, each pixel compared with the 9 nearest
grid seeds only) made of tensor operations, so it runs where the training step runs, GPU included.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def _cell_grid(t: torch.Tensor, cell: int, h: int, w: int) -> torch.Tensor:
    """Per-cell values (N, C, Kh, Kw) spread back to pixels (N, C, H, W) by nearest repetition."""
    return F.interpolate(t, scale_factor=cell, mode="nearest")[..., :h, :w]


def _grid_shape(h: int, w: int, cell: int) -> tuple[int, int]:
    """The seed grid's rows and columns: ceil(H / cell) × ceil(W / cell), one place for both callers."""
    return -(-h // cell), -(-w // cell)


def slic_labels(x: torch.Tensor, cell: int = 16, compactness: float = 0.3, iters: int = 3) -> torch.Tensor:
    """Superpixel label (N, H, W) of each pixel of ``x`` (N, C, H, W; colours on a scale of about 1).

    ``cell``: the seed spacing in pixels (about (H / cell) × (W / cell) superpixels); ``compactness``:
    the weight of a cell's width in position against a unit of colour distance (higher = squarer).
    Labels index the seed grid (row-major, ceil(H / cell) × ceil(W / cell)); some may end up empty.
    """
    n, _, h, w = x.shape
    kh, kw = _grid_shape(h, w, cell)
    x = x.detach().float()
    ys = torch.arange(h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
    xs = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
    scale = compactness / cell
    feat = torch.cat([x, ys * scale, xs * scale], 1)  # (N, C + 2, H, W)
    # seeds: each cell's mean feature (its mean colour at its centre of mass)
    centres = F.adaptive_avg_pool2d(feat, (kh, kw))
    cy = (torch.arange(h, device=x.device) // cell).view(1, h, 1)
    cx = (torch.arange(w, device=x.device) // cell).view(1, 1, w)
    labels = (cy * kw + cx).expand(n, h, w)
    far = 1e6  # out-of-grid seeds: squared distance ~1e12, never the nearest, still finite
    off = torch.tensor(_OFFSETS, device=x.device)
    for _ in range(iters):
        padded = F.pad(centres, (1, 1, 1, 1), value=far)
        seeds = torch.cat([padded[..., 1 + dy:1 + dy + kh, 1 + dx:1 + dx + kw] for dy, dx in _OFFSETS], 1)
        seeds = _cell_grid(seeds, cell, h, w).view(n, len(_OFFSETS), -1, h, w)  # the 9 nearest seeds
        best = ((feat.unsqueeze(1) - seeds) ** 2).sum(2).argmin(1)  # (N, H, W): which of them
        ly = (cy + off[best, 0]).clamp(0, kh - 1)
        lx = (cx + off[best, 1]).clamp(0, kw - 1)
        labels = ly * kw + lx
        centres = _region_means(feat, labels, kh * kw, centres.flatten(2)).view(n, -1, kh, kw)
    return labels


def _region_means(feat: torch.Tensor, labels: torch.Tensor, k: int, empty: torch.Tensor) -> torch.Tensor:
    """Mean of ``feat`` (N, C, H, W) over each label (N, C, K); ``empty`` (N, C, K) where a label has no pixel."""
    n, c = feat.shape[:2]
    flat = labels.reshape(n, 1, -1)
    sums = torch.zeros(n, c, k, device=feat.device, dtype=feat.dtype).scatter_add_(
        2, flat.expand(n, c, -1), feat.reshape(n, c, -1))
    counts = torch.zeros(n, 1, k, device=feat.device, dtype=feat.dtype).scatter_add_(
        2, flat, torch.ones_like(flat, dtype=feat.dtype))
    return torch.where(counts > 0, sums / counts.clamp(min=1), empty)


def flatten_superpixels(x: torch.Tensor, cell: int = 16, compactness: float = 0.3, iters: int = 3) -> torch.Tensor:
    """``x`` with every superpixel filled with its mean colour (no gradient: a target, not a path)."""
    with torch.no_grad():
        n, c, h, w = x.shape
        labels = slic_labels(x, cell, compactness, iters)
        kh, kw = _grid_shape(h, w, cell)
        k = kh * kw
        means = _region_means(x.detach().float(), labels, k, torch.zeros(n, c, k, device=x.device))
        out = means.gather(2, labels.reshape(n, 1, -1).expand(n, c, -1)).view(n, c, h, w)
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return out.to(x.dtype).contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
