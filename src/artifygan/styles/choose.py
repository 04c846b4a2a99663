"""Which style loss fits a set of references: ``--style-loss auto``, the default.

Why: the two style losses suit opposite kinds of pictures, and a user should not have to know which.
``gram`` carries line texture and tones everywhere alike (ink, pencil, prints); ``match`` gives flat
colour areas and outlines (avatars, vector art). On the benchmark each won on its own kind at 1, 5 and 10
references (bitmoji: ``match``; ukiyoe: ``gram``; docs/fewshot-experiments.md). What separates those
kinds is how much of a picture is flat: the share of pixels whose 3×3 neighbourhood barely varies
(measured on the first 60 pictures of each set, at 128² — bitmoji 0.59, ukiyoe 0.20, painted caricatures
0.32, selfie2anime's anime faces 0.39, photos 0.27). References flatter than :data:`MATCH_FROM` get
``match``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..imageio import centre_square

FLAT_SIDE = 128  # pictures are compared at one scale: flatness depends on the resolution
FLAT_STD = 2.0  # grey levels: a 3×3 neighbourhood with less spread counts as flat (JPEG noise stays under it)
MATCH_FROM = 0.4  # mean flat share from which the references count as flat-colour art


@dataclass(frozen=True)
class StyleChoice:
    """The loss chosen and the figure it was chosen by (recorded in the style's config.json)."""

    kind: str
    flat_share: float
    threshold: float = MATCH_FROM


def flat_share(image: Image.Image) -> float:
    """Share of the picture's pixels (centre square at 128²) whose 3×3 grey neighbourhood has a
    standard deviation under :data:`FLAT_STD` grey levels: ~1 for flat colour fields, ~0 for texture."""
    grey = np.asarray(centre_square(image.convert("RGB"), FLAT_SIDE).convert("L"), np.float32)
    mean = cv2.blur(grey, (3, 3))
    spread = np.sqrt(np.maximum(cv2.blur(grey * grey, (3, 3)) - mean * mean, 0.0))
    return float((spread < FLAT_STD).mean())


def choose_style_loss(images: Sequence[Image.Image]) -> StyleChoice:
    """``match`` for references that are mostly flat colour, ``gram`` otherwise (the mean over them)."""
    if not images:
        raise ValueError("choosing a style loss needs at least one reference")
    share = float(np.mean([flat_share(im) for im in images]))
    return StyleChoice("match" if share >= MATCH_FROM else "gram", round(share, 4))


__all__ = ["FLAT_STD", "MATCH_FROM", "StyleChoice", "choose_style_loss", "flat_share"]
