"""Edge-promoting negatives (CartoonGAN): cartoons whose clear edges have been blurred away.

The discriminator learns that a cartoon without crisp edges is fake, which pushes the generator to
draw clear lines. Only the colour image is blurred, and only inside the dilated edge region; blurring
the edge map itself (a common mistake) teaches nothing about edges.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def edge_mask(rgb: np.ndarray, kernel_size: int = 5, low: int = 100, high: int = 200) -> np.ndarray:
    """Boolean mask of the Canny edges dilated by ``kernel_size``."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, low, high)
    return cv2.dilate(edges, np.ones((kernel_size, kernel_size), np.uint8)) > 0


def edge_smooth(rgb: np.ndarray, kernel_size: int = 5, low: int = 100, high: int = 200) -> np.ndarray:
    """Return a copy of the H×W×3 uint8 image with a Gaussian blur applied only around its edges."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"edge_smooth expects an H×W×3 uint8 image, got {rgb.shape} {rgb.dtype}")
    mask = edge_mask(rgb, kernel_size, low, high)
    blurred = cv2.GaussianBlur(rgb, (kernel_size, kernel_size), 0, borderType=cv2.BORDER_REFLECT)
    out = rgb.copy()
    out[mask] = blurred[mask]
    return out


def _gaussian_kernel(kernel_size: int, device: torch.device) -> torch.Tensor:
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8  # OpenCV's sigma for a given kernel size
    r = torch.arange(kernel_size, device=device, dtype=torch.float32) - (kernel_size - 1) / 2
    k = torch.exp(-(r**2) / (2 * sigma**2))
    return k / k.sum()


@torch.no_grad()
def edge_smooth_batch(x: torch.Tensor, kernel_size: int = 5, low: int = 100, high: int = 200) -> torch.Tensor:
    """``edge_smooth`` for a batch on any device: (B, 3, H, W) uint8 → uint8, no host round trip.

    Why: smoothing every cartoon on the CPU (~20 ms each) starves a GPU. Canny is replaced by its
    cheap core: Sobel L1 magnitude with one step of hysteresis (weak edges count beside strong ones);
    no non-maximum suppression, which the dilation that follows makes irrelevant.
    """
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"edge_smooth_batch expects (B, 3, H, W) uint8, got {tuple(x.shape)} {x.dtype}")
    img = x.float()
    gray = (0.299 * img[:, 0:1] + 0.587 * img[:, 1:2] + 0.114 * img[:, 2:3])
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device)
    pad = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    mag = F.conv2d(pad, sobel.view(1, 1, 3, 3)).abs() + F.conv2d(pad, sobel.t().reshape(1, 1, 3, 3)).abs()
    strong = (mag >= high).float()
    edges = strong.bool() | ((mag >= low) & (F.max_pool2d(strong, 3, 1, 1) > 0))
    mask = F.max_pool2d(edges.float(), kernel_size, 1, kernel_size // 2) > 0
    k = _gaussian_kernel(kernel_size, x.device)
    p = kernel_size // 2
    blurred = F.pad(img, (p, p, p, p), mode="reflect")
    blurred = F.conv2d(blurred, k.view(1, 1, 1, -1).expand(3, 1, 1, -1).contiguous(), groups=3)
    blurred = F.conv2d(blurred, k.view(1, 1, -1, 1).expand(3, 1, -1, 1).contiguous(), groups=3)
    out = torch.where(mask, blurred.round().clamp(0, 255), img)
    return out.to(torch.uint8)
