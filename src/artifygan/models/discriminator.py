"""CartoonGAN's patch discriminator (LeakyReLU, strided 3×3 convs, a 1-channel patch map)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import norm_layer
from .registry import DISCRIMINATORS


@dataclass
class PatchDiscriminatorConfig:
    base_ch: int = 32
    norm: str = "instance"  # instance | batch | layer | none
    spectral_norm: bool = False


class PatchDiscriminator(nn.Module):
    """Outputs logits on a 1/4-resolution patch grid; each logit judges a local texture patch."""

    def __init__(self, cfg: PatchDiscriminatorConfig) -> None:
        super().__init__()
        self.config = cfg
        c = cfg.base_ch

        def conv(cin: int, cout: int, stride: int = 1) -> nn.Module:
            layer = nn.Conv2d(cin, cout, 3, stride, 1)
            return nn.utils.parametrizations.spectral_norm(layer) if cfg.spectral_norm else layer

        def lrelu() -> nn.Module:
            return nn.LeakyReLU(0.2, inplace=True)

        self.net = nn.Sequential(
            conv(3, c), lrelu(),
            conv(c, 2 * c, 2), lrelu(), conv(2 * c, 4 * c), norm_layer(cfg.norm, 4 * c), lrelu(),
            conv(4 * c, 4 * c, 2), lrelu(), conv(4 * c, 8 * c), norm_layer(cfg.norm, 8 * c), lrelu(),
            conv(8 * c, 8 * c), norm_layer(cfg.norm, 8 * c), lrelu(),
            conv(8 * c, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


DISCRIMINATORS.register("patch", PatchDiscriminatorConfig)(PatchDiscriminator)
