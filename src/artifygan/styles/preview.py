"""Pictures of a style while it is being learned: a zero-shot one at once, then the model as it stands.

Why: an adapt takes minutes, and a user should see early what the references will do to a face (and
stop a job started with the wrong pictures). The first preview needs no training step: the base model
with the references' colour statistics folded into its output layer (``colour.py``), a feed-forward
transfer of the references' palette. Later previews show the moving-average generator, every
``AdaptConfig.preview_every_s`` seconds. Each goes through the :class:`Cartoonizer`, the inference path
every other surface uses, on one photo the style is learned on.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image
from torch import nn

from ..inference.cartoonizer import Cartoonizer
from .colour import fold_colour_transfer


def zero_shot_generator(generator: nn.Module, photos: torch.Tensor, refs: list[torch.Tensor]) -> nn.Module:
    """A copy of ``generator`` with the references' colour statistics folded into its output layer
    (measured on its outputs for ``photos``, (N, 3, H, W) in [-1, 1]); no training step."""
    g = copy.deepcopy(generator).float().eval()
    fold_colour_transfer(g, photos.float(), refs)
    return g


class Previewer:
    """Renders previews of a generator on one photo, and says when the next one is due."""

    def __init__(self, meta: dict[str, Any], photo: Image.Image, every_s: float, device: torch.device,
                 finish: Callable[[nn.Module], nn.Module] | None = None) -> None:
        """``finish``: what saving will do to the weights (a style's ``strength`` blend), done to the copy
        shown, so the preview is the style that will be saved (it showed strength 1 whatever was asked)."""
        self.meta, self.photo, self.every_s, self.device, self.finish = meta, photo, every_s, device, finish
        self.last: float | None = None

    def render(self, generator: nn.Module, own: bool = False) -> Image.Image:
        """The photo translated by ``generator``: by a copy of it (the training copy is left as it is), or by
        itself when ``own`` says it is a throwaway copy already."""
        g = (generator if own else copy.deepcopy(generator)).float().eval().requires_grad_(False)
        if self.finish is not None:
            g = self.finish(g)
        with torch.inference_mode():
            out = Cartoonizer(g, self.meta, device=str(self.device), batch_size=1).translate([self.photo])[0]
        self.last = time.perf_counter()
        return out

    def zero_shot(self, generator: nn.Module, photos: torch.Tensor, refs: list[torch.Tensor]) -> Image.Image:
        """Before any step: the base model with the references' colours (no training)."""
        return self.render(zero_shot_generator(generator, photos, refs), own=True)

    def due(self) -> bool:
        return self.every_s > 0 and (self.last is None or time.perf_counter() - self.last >= self.every_s)
