"""Cracked cartoons: a second kind of negative for the discriminator (issue 13's "sketch filter").

Why: CartoonGAN's edge-promoting negatives (cartoons with their edges blurred, labelled fake) teach the
discriminator that a cartoon has crisp edges. It learns nothing against the generator's own failure,
thin dark strokes across flat skin, which the anime faces' line texture makes look "drawn". These
negatives are the same cartoons with a few such strokes drawn on their flat regions, labelled fake: the
only thing that tells them from the real picture is strokes where a cartoon has flat colour, so that is
what the discriminator learns to refuse, while contour lines stay real. ``loss.crack_negatives`` weighs
the term in D's loss (0 = off).

Everything is tensor operations on the batch's device; the random numbers come from a CPU generator
seeded per step, so a run is reproducible and resumes the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..cartoon_losses import box_filter
from ..config import CRACK_SHAPES as SHAPES

STROKES = 12  # candidate strokes per picture; those off the flat regions are masked away
LENGTH = (6.0, 24.0)  # stroke length, pixels at 128² (scaled with the picture)
BEND = 0.3  # the curve's control point, off the chord by up to this share of its length
DEPTH = (0.15, 0.45)  # darkening of the stroke's pixels (share of their brightness), per picture
FLAT_STD = 0.06  # a pixel is flat where its 5×5 grey neighbourhood's std is below this ([-1, 1] units)
TONE_GRID = 6  # tone borders: the random shading field's control grid (cells of ~21 px at 128²)
TONE_AMP = 0.2  # its amplitude, in brightness (0–1)
TONE_LEVELS = (2, 5)  # tone levels the shading is cut into, per picture (high end exclusive)


def flat_mask(x: torch.Tensor, threshold: float = FLAT_STD) -> torch.Tensor:
    """(N, 1, H, W) 1 where the picture's grey level is flat in a 5×5 neighbourhood, else 0."""
    grey = x.float().mean(1, keepdim=True)
    mean = box_filter(grey, 2)  # the window's part inside the picture at the borders
    var = box_filter(grey * grey, 2) - mean * mean
    return (var.clamp_min(0).sqrt() < threshold).float()


def _soften(lines: torch.Tensor) -> torch.Tensor:
    """1-pixel line masks (N, 1, H, W) with soft shoulders, as a generator's strokes have (a little
    anti-aliasing), still within 0–1."""
    kernel = torch.tensor([[0.0, 0.25, 0.0], [0.25, 1.0, 0.25], [0.0, 0.25, 0.0]], device=lines.device)
    return F.conv2d(lines, kernel.view(1, 1, 3, 3), padding=1).clamp(max=1.0)


def stroke_mask(n: int, h: int, w: int, gen: torch.Generator, device: torch.device | str = "cpu",
                strokes: int = STROKES) -> torch.Tensor:
    """(N, 1, H, W) soft masks (0–1) of ``strokes`` thin random curves each (quadratic Béziers)."""
    scale = min(h, w) / 128.0
    r = torch.rand(n, strokes, 5, generator=gen)
    start = r[..., :2] * torch.tensor([w - 1.0, h - 1.0])
    angle = r[..., 2] * 2 * torch.pi
    length = (LENGTH[0] + r[..., 3] * (LENGTH[1] - LENGTH[0])) * scale
    chord = torch.stack([angle.cos(), angle.sin()], -1)
    end = start + chord * length[..., None]
    normal = torch.stack([-chord[..., 1], chord[..., 0]], -1)
    ctrl = (start + end) / 2 + normal * ((r[..., 4] * 2 - 1) * BEND * length)[..., None]
    pts = int(2 * LENGTH[1] * scale) + 2  # at least two samples per pixel of the longest stroke
    t = torch.linspace(0, 1, pts).view(1, 1, pts, 1)
    curve = ((1 - t) ** 2 * start[:, :, None] + 2 * (1 - t) * t * ctrl[:, :, None] + t ** 2 * end[:, :, None])
    xy = curve.round().long()
    keep = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
    img = torch.arange(n).view(n, 1, 1).expand_as(keep)
    flat_index = (img * h * w + xy[..., 1].clamp(0, h - 1) * w + xy[..., 0].clamp(0, w - 1))[keep]
    mask = torch.zeros(n * h * w, device=device)  # only the indices travel to the device
    mask[flat_index.to(device)] = 1.0
    return _soften(mask.view(n, 1, h, w))


def tone_border_mask(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(N, 1, H, W) soft masks (0–1) of the borders between tone levels of each picture's shading: its
    blurred brightness plus a smooth random field, cut into 2–4 levels. A web of closed curves, like the
    dark outlines the generator draws between shading levels (docs/default-model-experiments.md: "What the
    strokes are")."""
    n, _, h, w = x.shape
    r = max(1, round(2 * min(h, w) / 128))
    shade = box_filter(box_filter((x.float().mean(1, keepdim=True) + 1) / 2, r), r)
    field = torch.rand(n, 1, TONE_GRID, TONE_GRID, generator=gen) * 2 - 1
    levels = torch.randint(TONE_LEVELS[0], TONE_LEVELS[1], (n, 1, 1, 1), generator=gen).float()
    offset = torch.rand(n, 1, 1, 1, generator=gen)
    field = F.interpolate(field.to(x.device), size=(h, w), mode="bicubic", align_corners=False) * TONE_AMP
    q = torch.floor((shade + field) * levels.to(x.device) + offset.to(x.device))
    border = torch.zeros_like(q)
    border[..., :, 1:] += (q[..., :, 1:] != q[..., :, :-1]).float()
    border[..., 1:, :] += (q[..., 1:, :] != q[..., :-1, :]).float()
    return _soften(border.clamp(max=1.0))


def crack(cartoon: torch.Tensor, gen: torch.Generator, shape: str = "strokes") -> torch.Tensor:
    """The cartoons ([-1, 1], N×3×H×W) with thin dark lines drawn on their flat regions only: random
    curves (``strokes``) or the borders between tone levels of their shading (``tone``)."""
    n, _, h, w = cartoon.shape
    if shape not in SHAPES:
        raise ValueError(f"crack shape must be one of {SHAPES}, got {shape!r}")
    lines = stroke_mask(n, h, w, gen, cartoon.device) if shape == "strokes" else tone_border_mask(cartoon, gen)
    m = lines * flat_mask(cartoon)
    depth = (DEPTH[0] + torch.rand(n, generator=gen) * (DEPTH[1] - DEPTH[0])).to(cartoon.device).view(n, 1, 1, 1)
    bright = (cartoon.float() + 1) / 2
    return (bright * (1 - depth * m) * 2 - 1).to(cartoon.dtype)


__all__ = ["SHAPES", "crack", "flat_mask", "stroke_mask", "tone_border_mask"]
