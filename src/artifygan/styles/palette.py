"""A flat-colour prior for few-shot styles: the references' palette as a target.

Why: a patch discriminator and a Gram loss on a handful of pictures teach lines and texture well, but
not the flat colour areas that flat styles (avatars, cel shading, woodblock prints) are made of: adapted
outputs came out as ink drawings with hatching. Here the references' colours are clustered into a small
palette (k-means in RGB); the palette loss pulls every output pixel towards its nearest palette colour
(the target is detached, so the gradient only moves a pixel along the line to that colour), which
quantises the output into the references' few colours and flattens what lies between lines.
"""

from __future__ import annotations

import torch


def reference_palette(refs: list[torch.Tensor], k: int = 12, iters: int = 15, samples: int = 20000,
                      seed: int = 0) -> torch.Tensor:
    """(k, 3) palette of the references (each (3, H, W) in [-1, 1]) by k-means on sampled pixels.

    Pixels are sampled evenly over the references (one large picture does not outweigh the others);
    centres start from k-means++ so a small colour area (lips, an outline) still gets its own centre.
    """
    if not refs:
        raise ValueError("reference_palette needs at least one reference")
    if k < 1:
        raise ValueError(f"palette size must be ≥ 1, got {k}")
    gen = torch.Generator().manual_seed(seed)
    per = max(1, samples // len(refs))
    picked = []
    for r in refs:
        flat = r.reshape(3, -1).t()
        picked.append(flat[torch.randint(0, flat.shape[0], (per,), generator=gen)])
    x = torch.cat(picked).float()
    centres = x[torch.randint(0, x.shape[0], (1,), generator=gen)]
    while centres.shape[0] < min(k, x.shape[0]):  # k-means++: the next centre far from those chosen
        d2 = torch.cdist(x, centres).min(1).values.square()
        if float(d2.sum()) <= 0:
            break
        centres = torch.cat([centres, x[torch.multinomial(d2 / d2.sum(), 1, generator=gen)]])
    for _ in range(iters):
        assign = torch.cdist(x, centres).argmin(1)
        for j in range(centres.shape[0]):
            members = x[assign == j]
            if members.shape[0]:
                centres[j] = members.mean(0)
    return centres


def nearest_palette(x: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Each pixel of ``x`` (B, 3, H, W) replaced by its nearest palette colour (no gradient)."""
    b, _, h, w = x.shape
    flat = x.detach().float().permute(0, 2, 3, 1).reshape(-1, 3)
    colours = palette.to(flat)
    return colours[torch.cdist(flat, colours).argmin(1)].view(b, h, w, 3).permute(0, 3, 1, 2).to(x.dtype)


def palette_loss(fake: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Mean L1 from each output pixel to its nearest palette colour: zero for an image drawn only in it."""
    return (fake - nearest_palette(fake, palette)).abs().mean()


__all__ = ["nearest_palette", "palette_loss", "reference_palette"]
