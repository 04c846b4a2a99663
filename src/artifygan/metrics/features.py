"""Inception pool3 features (2048-d) of image sets, the embedding FID and KID are defined on.

Resizing to 299×299 changes the numbers (clean-fid), so the method is explicit and recorded in every
report: ``pil_bicubic`` (default; PIL's bicubic on the uint8 picture, so rounded to whole grey levels:
every figure in the README and model card), ``clean`` (clean-fid's own: PIL bicubic per channel in float,
clipped to 0..255, not rounded; on the selfie2anime hold-out identity's KID×100 24.57 against 24.63) or
``torch_bilinear`` (as most older PyTorch ports). Input to the network: float x/128 − 1 on 0..255, the
inception-2015-12-05 convention.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from ..models.inception import FIDInception, load_fid_inception

RESIZE_METHODS = ("pil_bicubic", "clean", "torch_bilinear")
INPUT_SIZE = 299


def to_inception_input(images: list[Image.Image], method: str = "pil_bicubic") -> torch.Tensor:
    """RGB PIL images (any size) → (B, 3, 299, 299) float in [-1, 1)."""
    if method not in RESIZE_METHODS:
        raise ValueError(f"unknown resize method {method!r}; choose one of {RESIZE_METHODS}")
    if method == "pil_bicubic":
        arrs = [np.asarray(im.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BICUBIC), np.float32)
                for im in images]
        x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2)
    elif method == "clean":
        x = torch.from_numpy(np.stack([_clean_resize(im) for im in images])).permute(0, 3, 1, 2)
    else:
        xs = []
        for im in images:
            t = torch.from_numpy(np.asarray(im.convert("RGB"), np.float32)).permute(2, 0, 1)[None]
            xs.append(F.interpolate(t, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False))
        x = torch.cat(xs)
    return x / 128.0 - 1.0


def _clean_resize(im: Image.Image) -> np.ndarray:
    """clean-fid's resize: each channel as a float image (PIL mode F), bicubic, clipped, never rounded."""
    rgb = np.asarray(im.convert("RGB"), np.float32)
    chans = [np.asarray(Image.fromarray(rgb[..., c], mode="F").resize((INPUT_SIZE, INPUT_SIZE),
                                                                     Image.Resampling.BICUBIC)) for c in range(3)]
    return np.clip(np.stack(chans, -1), 0, 255).astype(np.float32)


class InceptionFeatures:
    """Callable: images → (N, 2048) float64 numpy features."""

    def __init__(self, weights: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 resize: str = "pil_bicubic", batch_size: int = 25) -> None:
        self.net: FIDInception = load_fid_inception(weights, device=device)
        self.device, self.resize, self.batch_size = torch.device(device), resize, batch_size

    @torch.inference_mode()
    def __call__(self, images: Iterable[Image.Image], progress: bool = False, desc: str = "features") -> np.ndarray:
        images = list(images)
        out = []
        for i in tqdm(range(0, len(images), self.batch_size), disable=not progress, desc=desc, leave=False):
            x = to_inception_input(images[i:i + self.batch_size], self.resize).to(self.device)
            out.append(self.net(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 2048))
