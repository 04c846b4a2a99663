"""Parameter and multiply-accumulate counts, measured by forward hooks on a real input."""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.inference_mode()
def count_macs(model: nn.Module, size: int | tuple[int, int] = 256) -> int:
    """MACs of one forward pass on a 1×3×H×W input (convs, transposed convs and linears)."""
    h, w = (size, size) if isinstance(size, int) else size
    total = 0

    def conv_hook(mod: nn.Module, inp, out) -> None:
        nonlocal total
        if isinstance(mod, nn.ConvTranspose2d):
            # each input pixel scatters a full kernel to the output
            x = inp[0]
            per = mod.in_channels * mod.out_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            total += per * x.shape[-2] * x.shape[-1] * x.shape[0]
        elif isinstance(mod, nn.Conv2d):
            per = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            total += per * out.numel()
        elif isinstance(mod, nn.Linear):
            total += mod.in_features * out.numel()

    handles = [m.register_forward_hook(conv_hook) for m in model.modules()
               if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)]
    was_training = model.training
    try:
        model.eval()
        p = next(model.parameters())
        model(torch.zeros(1, 3, h, w, device=p.device, dtype=p.dtype))
    finally:
        for hd in handles:
            hd.remove()
        model.train(was_training)
    return total
