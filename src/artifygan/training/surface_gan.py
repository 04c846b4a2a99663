"""The White-box surface discriminator (Wang & Yu, CVPR 2020), as an optional second GAN of the loop.

Why: the main patch discriminator sees full-detail images, so it rewards any anime-like texture,
including thin dark strokes across skin (issue 13's "sketch filter"). A second discriminator that sees
only the surface representation — both images through the self-guided filter, which keeps contours
and flattens texture — can judge just what the surfaces look like: flat, shaded regions in cartoons,
skin with strokes and blotches in the outputs. Enabled by ``loss.surface > 0``; the main
discriminator's architecture and learning rate, at half its width, on the surfaces at half resolution:
a surface has no fine detail, and this costs about 1/16 of the main discriminator (at its full size the
CPU step took twice as long).
"""

from __future__ import annotations

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

R, EPS = 5, 2e-1  # White-box's surface filter (radius 5, ε 0.2)
SCALE = 2  # the surface is judged at 1/SCALE resolution


def surface_view(x: torch.Tensor) -> torch.Tensor:
    """What the surface discriminator sees: the self-guided filter at full size, then 2× average-pooled."""
    return F.avg_pool2d(surface(x.float(), R, EPS), SCALE)


class SurfaceGAN:
    """Discriminator, optimizer and the two losses of the surface term."""

    def __init__(self, cfg: Config, dev: torch.device, fmt: torch.memory_format, distributed: bool) -> None:
        self.weight, self.kind, self.fmt = cfg.loss.surface, cfg.loss.gan, fmt
        args = dict(cfg.model.discriminator_args)
        args["base_ch"] = max(8, args.get("base_ch", 32) // 2)  # half the main D's width
        self.D = to_memory_format(DISCRIMINATORS.build(cfg.model.discriminator, args).to(dev), fmt)
        ids = [dev.index] if dev.type == "cuda" else None
        self.D_train: nn.Module = DDP(self.D, device_ids=ids) if distributed else self.D
        self.opt = adam(self.D.parameters(), cfg.train.lr_d, cfg.train.betas, dev)

    def d_loss(self, cartoon: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Smoothed cartoons → real, smoothed outputs (detached) → fake; weighted like the G term."""
        with torch.no_grad():
            parts = torch.cat([surface_view(cartoon), surface_view(fake.detach())])
        real, fake_logits = self.D_train(parts.contiguous(memory_format=self.fmt)).float().chunk(2)
        return self.weight * (d_real_loss(real, self.kind) + d_fake_loss(fake_logits, self.kind))

    def logits(self, fake: torch.Tensor) -> torch.Tensor:
        """D's logits on the output's surface, with the gradient flowing through the filter into G
        (call with the discriminator frozen: ``requires_grad_(False)``)."""
        return self.D(surface_view(fake).contiguous(memory_format=self.fmt)).float()

    def state_dict(self) -> dict[str, Any]:
        return {"D_surface": self.D.state_dict(), "opt_d_surface": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Restore from a training state; False (fresh start) when the state was saved without it."""
        if "D_surface" not in state:
            return False
        self.D.load_state_dict(state["D_surface"])
        self.opt.load_state_dict(state["opt_d_surface"])
        return True
