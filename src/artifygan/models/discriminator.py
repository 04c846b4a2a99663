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
    # more stride-2 convs before the head: each about doubles the receptive field (37 px → 61, 109, …) so the
    # patches it judges grow towards a whole face (a fresh 37-px D could not tell the default from anime)
    extra_down: int = 0


class PatchDiscriminator(nn.Module):
    """Outputs logits on a 1/4-resolution patch grid (1/2^(2+extra_down)); each logit judges one patch."""

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
            *[m for _ in range(cfg.extra_down) for m in (conv(8 * c, 8 * c, 2), norm_layer(cfg.norm, 8 * c), lrelu())],
            conv(8 * c, 8 * c), norm_layer(cfg.norm, 8 * c), lrelu(),
            conv(8 * c, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


DISCRIMINATORS.register("patch", PatchDiscriminatorConfig)(PatchDiscriminator)
