"""Second discriminators of the loop, each judging one view of the images: surfaces, or skin.

Why: the main patch discriminator sees full-detail images everywhere, so it rewards any anime-like
texture wherever it appears, including thin dark strokes across skin (issue 13's "sketch filter"): hair
strands and outlines are lines in anime, and a patch of cheek with strokes looks like them. A second
discriminator that sees only one aspect can judge just that:

- ``surface`` (White-box cartoonization, Wang & Yu, CVPR 2020): both images through the self-guided
  filter, which keeps contours and flattens texture, at half resolution, so it judges what the surfaces
  look like: flat, shaded regions in cartoons, skin with strokes and blotches in the outputs.
- ``skin``: small patches taken from inside the skin only (the skin found by chroma, as the input skin
  step finds it: an output's patches where its photo has skin, a cartoon's where the cartoon has), so it
  judges what anime skin looks like (flat colour, soft shading, a blush) against the outputs' skin.

Each is the main discriminator's architecture and learning rate at half its width, with its own Adam.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from ..cartoon_losses import surface
from ..config import Config
from ..device import adam, to_memory_format
from ..losses import d_fake_loss, d_real_loss
from ..models import DISCRIMINATORS
from ..photo_colour import skin_masks

R, EPS = 5, 2e-1  # White-box's surface filter (radius 5, ε 0.2)
SCALE = 2  # the surface is judged at 1/SCALE resolution
SKIN_PATCHES = 8  # patches per image
SKIN_INSIDE = 0.5  # least skin mask of every pixel of a patch
View = Callable[[torch.Tensor, torch.Tensor | None, int], torch.Tensor]  # (images, their photos, seed) → view


def surface_view(x: torch.Tensor, _photo: torch.Tensor | None = None, _seed: int = 0) -> torch.Tensor:
    """What the surface discriminator sees: the self-guided filter at full size, then 2× average-pooled."""
    return F.avg_pool2d(surface(x.float(), R, EPS), SCALE)


def skin_patches(x: torch.Tensor, mask_of: torch.Tensor, size: int, n: int = SKIN_PATCHES,
                 seed: int = 0) -> torch.Tensor:
    """``n`` random ``size``² patches (N·n, C, size, size) of each image of ``x``, from where the skin mask
    of ``mask_of`` (the same image, or its photo) is at least SKIN_INSIDE on every pixel of the patch; an image
    without such a place gives patches from its centre. Differentiable in ``x``. The places are drawn from
    their own generator (``seed``), not the global one, so a resumed run draws what a straight one would."""
    b, _, h, w = x.shape
    outside = (skin_masks(mask_of) < SKIN_INSIDE).float()
    inside = F.max_pool2d(outside, size, stride=1).flatten(1) == 0  # (N, positions): no pixel outside
    cols = w - size + 1
    centre = ((h - size) // 2) * cols + (w - size) // 2
    weights = inside.float()
    weights[~inside.any(1), centre] = 1.0
    gen = torch.Generator().manual_seed(seed)
    pos = torch.multinomial(weights.cpu(), n, replacement=True, generator=gen).tolist()
    return torch.stack([x[i, :, p // cols:p // cols + size, p % cols:p % cols + size]
                        for i in range(b) for p in pos[i]])


class SideGAN:
    """One second discriminator: its view, optimizer and the two losses (``loss.<name>`` weights them)."""

    def __init__(self, name: str, view: View,
                 cfg: Config, dev: torch.device, fmt: torch.memory_format, distributed: bool) -> None:
        self.name, self.view = name, view
        self.weight, self.kind, self.fmt = getattr(cfg.loss, name), cfg.loss.gan, fmt
        args = dict(cfg.model.discriminator_args)
        args["base_ch"] = max(8, args.get("base_ch", 32) // 2)  # half the main D's width
        self.D = to_memory_format(DISCRIMINATORS.build(cfg.model.discriminator, args).to(dev), fmt)
        ids = [dev.index] if dev.type == "cuda" else None
        self.D_train: nn.Module = DDP(self.D, device_ids=ids) if distributed else self.D
        self.opt = adam(self.D.parameters(), cfg.train.lr_d, cfg.train.betas, dev)

    def d_loss(self, cartoon: torch.Tensor, fake: torch.Tensor, photo: torch.Tensor, seed: int) -> torch.Tensor:
        """Cartoons' views → real, outputs' views (detached) → fake; weighted like the G term. ``seed``:
        of the micro-batch (``checkpoint.microbatch_seed``), for views that draw places."""
        with torch.no_grad():
            real_v, fake_v = self.view(cartoon, None, seed), self.view(fake.detach(), photo, seed + 1)
        n = real_v.shape[0]
        logits = self.D_train(torch.cat([real_v, fake_v]).contiguous(memory_format=self.fmt)).float()
        return self.weight * (d_real_loss(logits[:n], self.kind) + d_fake_loss(logits[n:], self.kind))

    def logits(self, fake: torch.Tensor, photo: torch.Tensor, seed: int) -> torch.Tensor:
        """D's logits on the output's view, with the gradient flowing through the view into G
        (call with the discriminator frozen: ``requires_grad_(False)``)."""
        return self.D(self.view(fake, photo, seed + 2).contiguous(memory_format=self.fmt)).float()

    def state_dict(self) -> dict[str, Any]:
        return {f"D_{self.name}": self.D.state_dict(), f"opt_d_{self.name}": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Restore from a training state; False (fresh start) when the state was saved without it."""
        if f"D_{self.name}" not in state:
            return False
        self.D.load_state_dict(state[f"D_{self.name}"])
        self.opt.load_state_dict(state[f"opt_d_{self.name}"])
        return True


def side_gans(cfg: Config, dev: torch.device, fmt: torch.memory_format, distributed: bool) -> list[SideGAN]:
    """The second discriminators the config weights above 0, in a fixed order (surface, skin)."""
    size = max(16, cfg.data.size // 6)

    def skin_view(x: torch.Tensor, photo: torch.Tensor | None, seed: int) -> torch.Tensor:
        return skin_patches(x, x if photo is None else photo, size, seed=seed)

    views: dict[str, View] = {"surface": surface_view, "skin": skin_view}
    return [SideGAN(name, view, cfg, dev, fmt, distributed) for name, view in views.items()
            if getattr(cfg.loss, name) > 0]
