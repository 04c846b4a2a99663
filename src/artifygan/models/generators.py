"""Generators: the paper-size CartoonGAN net and ArtifyGAN's light net for CPUs and phones.

Both map RGB in [-1, 1] to RGB in [-1, 1], keep the input size, and need H and W to be multiples of
``stride`` (the inference path pads to it and crops back).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvNormAct, DWSeparable, InvertedResidual, PadMode, ResidualBlock, act_layer, norm_act
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
    down_pad: PadMode = "reflect"


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


@dataclass
class FastConfig:
    """Norm-free U-Net of plain 3×3 convs; see :class:`FastGenerator` for why."""

    ch: int = 24  # width at 1/2 resolution; ×2 at 1/4, ×4 at 1/8 (the body)
    n_blocks: int = 6  # residual blocks at 1/8 resolution
    act: str = "lrelu"


class _GatedResidual(nn.Module):
    """conv-act-conv with a zero-initialised scalar gate (ReZero): trains stably without any norm."""

    def __init__(self, ch: int, act: str) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), act_layer(act), nn.Conv2d(ch, ch, 3, 1, 1))
        self.gate = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gate * self.body(x)


class FastGenerator(nn.Module):
    """Built for GPUs and CPUs alike: no normalisation layers, few and dense convolutions.

    Why: on an H100 the GroupNorm after each of ``light``'s 45 convs took ~75% of its time, and
    depthwise convs leave tensor cores idle; on a CPU every norm is extra passes over memory. Here
    the expensive 3×3 convs run at 1/8 resolution (the body) and the widths halve as resolution
    doubles, so each level costs about the same; skips from the encoder carry the eyes' and mouth's
    detail, and the input itself feeds the last full-resolution conv.
    """

    stride = 8
    prefers_channels_last = True

    def __init__(self, cfg: FastConfig) -> None:
        super().__init__()
        c, a = cfg.ch, cfg.act
        self.config = cfg
        self.enc1 = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1, padding_mode="reflect"), act_layer(a))
        self.enc2 = nn.Sequential(nn.Conv2d(c, 2 * c, 3, 2, 1, padding_mode="reflect"), act_layer(a))
        self.enc3 = nn.Sequential(nn.Conv2d(2 * c, 4 * c, 3, 2, 1, padding_mode="reflect"), act_layer(a))
        self.body = nn.Sequential(*[_GatedResidual(4 * c, a) for _ in range(cfg.n_blocks)])
        self.dec3 = nn.Sequential(nn.Conv2d(4 * c + 2 * c, 2 * c, 3, 1, 1), act_layer(a))
        self.dec2 = nn.Sequential(nn.Conv2d(2 * c + c, c, 3, 1, 1), act_layer(a))
        self.dec1 = nn.Sequential(nn.Conv2d(c + 3, c // 2, 3, 1, 1), act_layer(a))
        self.out = nn.Conv2d(c // 2, 3, 3, 1, 1, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        h = self.body(self.enc3(e2))
        h = self.dec3(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), e2], 1))
        h = self.dec2(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), e1], 1))
        h = self.dec1(torch.cat([F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False), x], 1))
        return torch.tanh(self.out(h))


GENERATORS.register("cartoongan", CartoonGANConfig)(CartoonGANGenerator)
GENERATORS.register("light", LightConfig)(LightGenerator)
GENERATORS.register("fast", FastConfig)(FastGenerator)
