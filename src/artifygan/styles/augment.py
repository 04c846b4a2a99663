"""Augmentation for few-shot adaptation.

Two kinds: *sampling* (random scaled/rotated/flipped crops, how one reference becomes thousands of
patches and one photo many views) and *DiffAugment* (Zhao et al. 2020: colour, translation and cutout
applied to both real and fake images before the discriminator, differentiably, so D cannot memorise the
few references and G still gets useful gradients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class CropRange:
    """Random square crops: ``side`` is the crop's side as a fraction of the image's shorter side."""

    side: tuple[float, float] = (0.4, 0.7)
    rotate_deg: float = 0.0
    flip: bool = True


def random_crops(images: list[torch.Tensor], n: int, size: int, rng: CropRange,
                 gen: torch.Generator | None = None, halves: list[torch.Tensor] | None = None) -> torch.Tensor:
    """``n`` crops (n, 3, size, size) from randomly chosen images (each (3, H, W), any size), by an affine
    ``grid_sample`` per crop (scale, rotation, flip, position), reflecting at the borders.

    The random draws come from ``gen`` on the CPU; the sampling runs where the images are (on a GPU when
    they were moved there once), one ``grid_sample`` per image size rather than per crop: a batch of 16
    crops is a few kernel launches, not 16 × 5.

    ``halves``: each image area-averaged to half its size (``half_size``). A crop that shrinks its region
    by more than 1.5× samples that copy instead (the same place: the grid is in normalised coordinates),
    so thin lines are averaged, not dropped between bilinear samples.
    """
    picks, thetas = [], []
    sources = list(images)
    for _ in range(n):
        i = int(torch.randint(len(images), (1,), generator=gen))
        h, w = images[i].shape[-2:]
        lo, hi = rng.side
        side = (lo + (hi - lo) * float(torch.rand((), generator=gen))) * min(h, w)
        sx, sy = side / w, side / h  # half-extent in normalised coordinates (grid spans [-1, 1])
        cx = (1 - sx) * (2 * float(torch.rand((), generator=gen)) - 1)
        cy = (1 - sy) * (2 * float(torch.rand((), generator=gen)) - 1)
        a = math.radians(rng.rotate_deg * (2 * float(torch.rand((), generator=gen)) - 1))
        f = -1.0 if rng.flip and float(torch.rand((), generator=gen)) < 0.5 else 1.0
        if halves is not None and side / size > 1.5:
            sources.append(halves[i])
            i = len(sources) - 1
        picks.append(i)
        thetas.append([[f * sx * math.cos(a), -sy * math.sin(a) * h / w, cx],
                       [f * sx * math.sin(a) * w / h, sy * math.cos(a), cy]])
    ref = images[0]
    theta = torch.tensor(thetas, dtype=ref.dtype).to(ref.device, non_blocking=True)
    out = torch.empty(n, ref.shape[0], size, size, dtype=ref.dtype, device=ref.device)
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, i in enumerate(picks):
        groups.setdefault(tuple(sources[i].shape), []).append(k)
    for shape, ks in groups.items():
        src = torch.stack([sources[picks[k]] for k in ks])
        idx = torch.tensor(ks, device=ref.device)
        grid = F.affine_grid(theta[idx], [len(ks), shape[0], size, size], align_corners=False)
        out[idx] = F.grid_sample(src, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out


def half_size(images: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each (3, H, W) image area-averaged to half its size (the second level of ``random_crops``' pyramid)."""
    return [F.avg_pool2d(im[None], 2, ceil_mode=True)[0] for im in images]


def photo_jitter(x: torch.Tensor, strength: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """Per-image brightness/contrast/saturation jitter of photos in [-1, 1] (not differentiated)."""
    if strength <= 0:
        return x
    b = x.shape[0]
    r = lambda: ((torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * strength).to(x.device)  # noqa: E731
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + r()) + mean + 0.5 * r()
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * (1 + r()) + gray
    return x.clamp(-1, 1)


@dataclass
class DiffAugmentConfig:
    colour: bool = True
    translation: float = 0.125  # max shift as a fraction of the side
    cutout: float = 0.5  # side of the cut-out square as a fraction of the side (0: off)
    brightness: float = 0.3  # ± in [-1, 1] units (the paper: 0.5 on [-1, 1] images)
    saturation: float = 0.5  # × in [1 − s, 1 + s]
    contrast: float = 0.3  # × in [1 − c, 1 + c]


def diff_augment(x: torch.Tensor, cfg: DiffAugmentConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """Differentiable augmentation of a batch in [-1, 1]; every image gets its own random parameters."""
    b, _, h, w = x.shape
    dev = x.device
    if cfg.colour:
        rnd = lambda: torch.rand(b, 1, 1, 1, generator=gen).to(dev)  # noqa: E731
        x = x + (rnd() * 2 - 1) * cfg.brightness
        m = x.mean(dim=1, keepdim=True)
        x = (x - m) * (1 + (rnd() * 2 - 1) * cfg.saturation) + m
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - m) * (1 + (rnd() * 2 - 1) * cfg.contrast) + m
    if cfg.translation > 0:
        sh, sw = max(1, int(h * cfg.translation)), max(1, int(w * cfg.translation))
        ty = torch.randint(-sh, sh + 1, (b, 1, 1), generator=gen).to(dev)
        tx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=gen).to(dev)
        yy = torch.arange(h, device=dev).view(1, h, 1)
        xx = torch.arange(w, device=dev).view(1, 1, w)
        gy = (yy + ty).clamp(0, h - 1).expand(b, h, w)  # shift with edge replication (no hole to learn)
        gx = (xx + tx).clamp(0, w - 1).expand(b, h, w)
        idx = (gy * w + gx).view(b, 1, h * w).expand(-1, x.shape[1], -1)
        x = x.flatten(2).gather(2, idx).view_as(x)
    if cfg.cutout > 0:
        ch, cw = max(1, int(h * cfg.cutout)), max(1, int(w * cfg.cutout))
        cy = torch.randint(0, h - ch + 1, (b, 1, 1), generator=gen).to(dev)
        cx = torch.randint(0, w - cw + 1, (b, 1, 1), generator=gen).to(dev)
        yy = torch.arange(h, device=dev).view(1, h, 1)
        xx = torch.arange(w, device=dev).view(1, 1, w)
        hole = (yy >= cy) & (yy < cy + ch) & (xx >= cx) & (xx < cx + cw)
        x = x * (~hole).unsqueeze(1).to(x.dtype)
    return x
