"""Zero-step colour start: move the generator's palette to the references' before any training step.

A few hundred CPU steps move colours slowly, and colour is most of what separates one flat style from
another (a bitmoji's orange skin and white ground, a woodblock print's paper). The linear optimal
transport between two Gaussians (Monge–Kantorovich; Pitié & Kokaram 2007) maps the mean and covariance
of the generator's output colours onto the references'. Applied to the pre-tanh output it is an affine
map of the output convolution's channels, so it folds exactly into that layer's weights: the snapshot
stays an ordinary generator and the fine-tune starts from the new palette.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)
CLAMP = 0.99  # atanh of saturated pixels would dominate the statistics
# near-white pixels are left out: a flat style's empty white ground would otherwise pull every face pale
WHITE = 0.9  # all channels above this (in [-1, 1])


def preact_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3), in float64, of atanh of the non-white pixels of (N, 3, H, W) images
    in [-1, 1] (all pixels when nearly all are white)."""
    flat = x.double().permute(1, 0, 2, 3).reshape(3, -1)
    keep = ~(flat > WHITE).all(0)
    if int(keep.sum()) >= 16:
        flat = flat[:, keep]
    z = torch.atanh(flat.clamp(-CLAMP, CLAMP))
    mu = z.mean(1)
    zc = z - mu[:, None]
    return mu, zc @ zc.T / max(zc.shape[1] - 1, 1)


def _sqrtm(m: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def linear_transfer(mu_s: torch.Tensor, cov_s: torch.Tensor, mu_t: torch.Tensor, cov_t: torch.Tensor,
                    strength: float = 1.0, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, b) with A·z + b mapping N(mu_s, cov_s) onto N(mu_t, cov_t); ``strength`` blends from identity."""
    eye = torch.eye(3, dtype=torch.float64)
    cs = cov_s + eps * eye
    s_half = _sqrtm(cs)
    s_inv_half = torch.linalg.inv(s_half)
    a = s_inv_half @ _sqrtm(s_half @ (cov_t + eps * eye) @ s_half) @ s_inv_half
    a = (1 - strength) * eye + strength * a
    b = strength * mu_t + (1 - strength) * mu_s - a @ mu_s
    return a, b


def output_conv(generator: nn.Module) -> nn.Conv2d | None:
    """The generator's last layer before tanh, when it is a plain 3-channel convolution (light, cartoongan)."""
    out = getattr(generator, "out", None)
    return out if isinstance(out, nn.Conv2d) and out.out_channels == 3 and out.bias is not None else None


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is not None  # output_conv only returns convolutions with a bias
    return conv.bias


@torch.no_grad()
def fold_colour_transfer(generator: nn.Module, photos: torch.Tensor, refs: list[torch.Tensor],
                         strength: float = 1.0) -> bool:
    """Fold the colour transfer (generator outputs on ``photos`` → reference colours) into the output conv.

    Returns False (and changes nothing) for a generator without a plain output convolution.
    """
    conv = output_conv(generator)
    if conv is None or strength <= 0:
        if conv is None:
            log.info("generator has no plain output convolution: no colour start")
        return False
    was_training = generator.training
    generator.eval()
    out = generator(photos)
    generator.train(was_training)
    # the statistics on the CPU (the references are there; a GPU generator's outputs were not: a device
    # mismatch at the first preview of every GPU job), the folded weights back on the generator's device
    mu_s, cov_s = preact_stats(out.detach().cpu())
    stats = [preact_stats(r[None].cpu()) for r in refs]  # every reference counts equally, whatever its size
    mu_t = torch.stack([m for m, _ in stats]).mean(0)
    # the pooled covariance: within-reference spread plus the spread of the references' means
    cov_t = torch.stack([c + torch.outer(m - mu_t, m - mu_t) for m, c in stats]).mean(0)
    a, b = linear_transfer(mu_s, cov_s, mu_t, cov_t, strength)
    # folded in float64 on the CPU (MPS has no float64), copied back in the weights' dtype and device
    w = conv.weight.detach().cpu().double()
    conv.weight.copy_(torch.einsum("ij,jckl->ickl", a, w).to(conv.weight.dtype))
    bias = _bias(conv)
    bias.copy_((a @ bias.detach().cpu().double() + b).to(bias.dtype))
    return True
