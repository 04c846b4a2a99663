"""The first Inception layers (conv … mixed_2) of inception-2015-12-05 as a plain ``nn.Module``.

Why not the TorchScript: it is 87 MB (too big to carry to a GPU machine), its interpreter crashes
under CUDA bf16 autocast, and the content loss needs only ~1M of its parameters. The weights are read
from the FID TorchScript once, batch norm folded into the convolutions, and cached as a small
safetensors file; the features equal the TorchScript's up to float rounding.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save
from torch import nn

from ..hub import cache_dir, given_file, in_cache
from ..imageio import atomic_write_bytes, one_line
from .inception import LAYER_NAMES, resolve_inception_path

CONTENT_LAYERS = LAYER_NAMES[: LAYER_NAMES.index("mixed_2") + 1]
ENV_VAR = "ARTIFYGAN_INCEPTION_CONTENT"
BN_EPS = 1e-3  # the TF graph's batch-norm epsilon
# (name, cin, cout, kernel, stride, padding) of the stem convolutions
_STEM = {"conv": (3, 32, 3, 2, 0), "conv_1": (32, 32, 3, 1, 0), "conv_2": (32, 64, 3, 1, 1),
         "conv_3": (64, 80, 1, 1, 0), "conv_4": (80, 192, 3, 1, 0)}
_MIXED = {"mixed": (192, 32), "mixed_1": (256, 64), "mixed_2": (288, 64)}  # (in channels, pool-branch channels)


def _conv(cin: int, cout: int, k: int, stride: int = 1, pad: int = 0) -> nn.Sequential:
    """Conv with batch norm folded into its bias, then ReLU (the TF graph's conv-BN-ReLU)."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad), nn.ReLU())


class _Pool(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "max":
            return F.max_pool2d(x, 3, 2)
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class _InceptionA(nn.Module):
    def __init__(self, cin: int, pool_ch: int) -> None:
        super().__init__()
        self.conv = _conv(cin, 64, 1)
        self.tower = nn.Sequential(_conv(cin, 48, 1), _conv(48, 64, 5, pad=2))
        self.tower_1 = nn.Sequential(_conv(cin, 64, 1), _conv(64, 96, 3, pad=1), _conv(96, 96, 3, pad=1))
        self.tower_2 = nn.Sequential(_Pool("avg"), _conv(cin, pool_ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class InceptionFeatures(nn.Module):
    """Inception layers up to ``until`` (≤ mixed_2). Input RGB in [-1, 1], any size ≥ 75 px."""

    def __init__(self, until: str = "mixed_2") -> None:
        super().__init__()
        if until not in CONTENT_LAYERS:
            raise ValueError(f"unknown Inception content layer {until!r}; choose one of {CONTENT_LAYERS}")
        self.until = until
        self.layers = nn.Sequential()
        for name in CONTENT_LAYERS[: CONTENT_LAYERS.index(until) + 1]:
            if name in _STEM:
                cin, cout, k, s, p = _STEM[name]
                block: nn.Module = _conv(cin, cout, k, s, p)
            elif name in _MIXED:
                block = _InceptionA(*_MIXED[name])
            else:
                block = _Pool("max")
            self.layers.add_module(name, block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _fold(layer: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A TorchScript Conv2dLayer (conv, BN without scale, eps 1e-3) → equivalent conv weight and bias."""
    # a TorchScript module's attributes are only known at run time
    var, weight = cast(torch.Tensor, layer.var), cast(torch.Tensor, layer.weight)
    beta, mean = cast(torch.Tensor, layer.beta), cast(torch.Tensor, layer.mean)
    inv = torch.rsqrt(var.detach().double() + BN_EPS)
    w = weight.detach().double() * inv.view(-1, 1, 1, 1)
    b = beta.detach().double() - mean.detach().double() * inv
    return w.float(), b.float()


def weights_from_torchscript(path: str | os.PathLike, until: str = "mixed_2") -> dict[str, torch.Tensor]:
    """Read the FID TorchScript and return the state dict of ``InceptionFeatures(until)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # a cut download or a foreign file: one line naming it, not torch's traceback
        raise ValueError(f"{path}: cannot load Inception TorchScript ({one_line(exc)}{in_cache(path)})") from None
    src = getattr(getattr(scripted, "net", scripted), "layers", None)
    if src is None:
        raise ValueError(f"{path}: not an inception-2015-12-05 TorchScript (no 'layers' module)")
    target = InceptionFeatures(until)
    src_convs = {n: m for n, m in src.named_modules() if getattr(m, "original_name", "") == "Conv2dLayer"}
    state: dict[str, torch.Tensor] = {}
    for key in target.state_dict():
        # layers.mixed.tower.1.0.weight ↔ TorchScript mixed.tower.conv_1
        parts = key.split(".")[1:-1]
        ts_name = _torchscript_name(parts)
        if ts_name not in src_convs:
            raise ValueError(f"{path}: not an inception-2015-12-05 TorchScript (no conv layer {ts_name!r})")
        w, b = _fold(src_convs[ts_name])
        state[key] = w if key.endswith("weight") else b
    return state


def _torchscript_name(parts: list[str]) -> str:
    """Our module path (without the trailing '0' of the conv inside _conv) → the TorchScript's name."""
    parts = parts[:-1]  # drop the Sequential index of the Conv2d inside _conv
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:  # mixed.conv
        return ".".join(parts)
    layer, tower, idx = parts
    if tower == "tower_2":
        return f"{layer}.tower_2.conv"
    return f"{layer}.{tower}.{'conv' if idx == '0' else f'conv_{idx}'}"


def cached_weights_path(until: str = "mixed_2") -> Path:
    return cache_dir("weights") / f"inception-2015-12-05-{until}.safetensors"


def resolve_content_weights(path: str | os.PathLike | None = None, until: str = "mixed_2",
                            torchscript: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Path option → $ARTIFYGAN_INCEPTION_CONTENT → cache → extracted once from the FID TorchScript."""
    given = given_file("Inception content weights", path, ENV_VAR)
    if given is not None:
        return given
    cached = cached_weights_path(until)
    if cached.is_file():
        return cached
    state = weights_from_torchscript(resolve_inception_path(torchscript, download), until)
    meta = {"source": "inception-2015-12-05", "until": until, "bn": "folded"}
    atomic_write_bytes(cached, save(state, metadata=meta))
    return cached


def load_inception_features(path: str | os.PathLike | None = None, until: str = "mixed_2",
                            torchscript: str | os.PathLike | None = None,
                            download: bool = True) -> InceptionFeatures:
    """``InceptionFeatures(until)`` with its weights; the file may hold more layers than needed."""
    p = resolve_content_weights(path, until, torchscript, download)
    model = InceptionFeatures(until)
    try:
        state = load_file(str(p), device="cpu")
        model.load_state_dict({k: state[k] for k in model.state_dict()}, strict=True)
    except Exception as exc:
        raise ValueError(f"{p}: not Inception content weights up to {until} ({str(exc).splitlines()[0]})") from None
    return model
