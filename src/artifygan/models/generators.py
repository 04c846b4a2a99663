"""Generators: the paper-size CartoonGAN net and ArtifyGAN's light net for CPUs and phones.

Both map RGB in [-1, 1] to RGB in [-1, 1], keep the input size, and need H and W to be multiples of
``stride`` (the inference path pads to it and crops back).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvNormAct, DWSeparable, InvertedResidual, ResidualBlock, norm_act
from .registry import GENERATORS


@dataclass
class CartoonGANConfig:
    """Chen et al. 2018: 7×7 flat conv, two stride-2 downs, 8 residual blocks at 256 ch, two ups."""

    base_ch: int = 64
    n_blocks: int = 8
    norm: str = "instance"


class CartoonGANGenerator(nn.Module):
    stride = 4

    @property
    def prefers_channels_last(self) -> bool:
        return self.config.norm != "instance"

    def __init__(self, cfg: CartoonGANConfig) -> None:
        super().__init__()
        c, n = cfg.base_ch, cfg.norm
        self.config = cfg
        self.flat = ConvNormAct(3, c, 7, norm=n)
        self.down = nn.Sequential(
            nn.Conv2d(c, 2 * c, 3, 2, 1), nn.Conv2d(2 * c, 2 * c, 3, 1, 1), norm_act(2 * c, n),
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.Conv2d(4 * c, 4 * c, 3, 1, 1), norm_act(4 * c, n),
        )
        self.res = nn.Sequential(*[ResidualBlock(4 * c, n) for _ in range(cfg.n_blocks)])
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, 3, 2, 1, output_padding=1), nn.Conv2d(2 * c, 2 * c, 3, 1, 1),
            norm_act(2 * c, n),
            nn.ConvTranspose2d(2 * c, c, 3, 2, 1, output_padding=1), nn.Conv2d(c, c, 3, 1, 1),
            norm_act(c, n),
        )
        self.out = nn.Conv2d(c, 3, 7, 1, 3, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out(self.up(self.res(self.down(self.flat(x))))))


@dataclass
class LightConfig:
    """Efficient generator: separable strided convs down, inverted-residual body, bilinear-up + separable convs."""

    ch: int = 32  # full-resolution width; body runs at 4×ch on 1/4 resolution
    n_blocks: int = 7
    expansion: int = 2
    norm: str = "layer"  # GroupNorm(1): as AnimeGAN; ~2× faster than instance norm on CPU here
    act: str = "lrelu"
    # padding of the two stride-2 depthwise convs; "zeros" (the first shipped model) drew lines on the
    # bottom/right edges of outputs, "reflect" does not
    down_pad: str = "reflect"


class LightGenerator(nn.Module):
    stride = 4

    @property
    def prefers_channels_last(self) -> bool:
        return self.config.norm != "instance"  # instance norm is slower in channels_last on CPU

    def __init__(self, cfg: LightConfig) -> None:
        super().__init__()
        c, n, a = cfg.ch, cfg.norm, cfg.act
        self.config = cfg
        self.stem = ConvNormAct(3, c, 3, norm=n, act=a)
        p = cfg.down_pad
        self.down1 = nn.Sequential(DWSeparable(c, 2 * c, 2, n, a, p), DWSeparable(2 * c, 2 * c, 1, n, a))
        self.down2 = nn.Sequential(DWSeparable(2 * c, 4 * c, 2, n, a, p), DWSeparable(4 * c, 4 * c, 1, n, a))
        self.body = nn.Sequential(*[InvertedResidual(4 * c, cfg.expansion, n, a) for _ in range(cfg.n_blocks)])
        self.up1 = nn.Sequential(DWSeparable(4 * c, 2 * c, 1, n, a), DWSeparable(2 * c, 2 * c, 1, n, a))
        self.up2 = nn.Sequential(DWSeparable(2 * c, c, 1, n, a), DWSeparable(c, c, 1, n, a))
        self.out = nn.Conv2d(c, 3, 3, 1, 1, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        d1 = self.down1(s)
        h = self.body(self.down2(d1))
        h = F.interpolate(h, size=d1.shape[-2:], mode="bilinear", align_corners=False)
        h = self.up1(h) + d1  # skip keeps fine facial detail the bottleneck would blur
        h = F.interpolate(h, size=s.shape[-2:], mode="bilinear", align_corners=False)
        h = self.up2(h) + s
        return torch.tanh(self.out(h))


GENERATORS.register("cartoongan", CartoonGANConfig)(CartoonGANGenerator)
GENERATORS.register("light", LightConfig)(LightGenerator)
