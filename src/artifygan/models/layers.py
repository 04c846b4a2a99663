"""Building blocks shared by the generators and the discriminator."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

PadMode = Literal["zeros", "reflect", "replicate", "circular"]  # nn.Conv2d's padding_mode


def norm_layer(kind: str, ch: int) -> nn.Module:
    """instance | batch | layer (GroupNorm with one group) | none."""
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose instance, batch, layer or none")


def act_layer(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "silu":
        return nn.SiLU(inplace=True)
    raise ValueError(f"unknown activation {kind!r}; choose relu, lrelu or silu")


def norm_act(ch: int, norm: str, act: str = "relu") -> nn.Sequential:
    """Norm + activation after a plain conv (CartoonGAN applies them after conv pairs)."""
    return nn.Sequential(norm_layer(norm, ch), act_layer(act))


class ConvNormAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1,
                 norm: str = "instance", act: str | None = "relu", pad_mode: PadMode = "reflect") -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=norm == "none",
                      padding_mode=pad_mode if k > 1 else "zeros")
        ]
        layers.append(norm_layer(norm, cout))
        if act is not None:
            layers.append(act_layer(act))
        super().__init__(*layers)


class DWSeparable(nn.Sequential):
    """Depthwise 3×3 + pointwise 1×1: ~8-9× fewer MACs than a full 3×3 conv."""

    def __init__(self, cin: int, cout: int, stride: int = 1, norm: str = "instance", act: str = "lrelu",
                 pad_mode: PadMode = "zeros") -> None:
        # zero padding by default: reflect-padding every depthwise conv cost ~10% of CPU time. Strided ones
        # should reflect: on even sizes they read only the top/left pad, which left lines on the edges.
        super().__init__(
            ConvNormAct(cin, cin, 3, stride, groups=cin, norm=norm, act=act, pad_mode=pad_mode),
            ConvNormAct(cin, cout, 1, norm=norm, act=act),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: expand 1×1 → depthwise 3×3 → project 1×1 (linear), with identity skip."""

    def __init__(self, ch: int, expansion: int = 2, norm: str = "instance", act: str = "lrelu") -> None:
        super().__init__()
        hidden = ch * expansion
        self.body = nn.Sequential(
            ConvNormAct(ch, hidden, 1, norm=norm, act=act),
            ConvNormAct(hidden, hidden, 3, groups=hidden, norm=norm, act=act, pad_mode="zeros"),
            ConvNormAct(hidden, ch, 1, norm=norm, act=None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualBlock(nn.Module):
    """CartoonGAN residual block: conv-norm-relu-conv-norm + skip."""

    def __init__(self, ch: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(ch, ch, 3, norm=norm, act="relu"),
            ConvNormAct(ch, ch, 3, norm=norm, act=None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
