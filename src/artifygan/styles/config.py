"""Settings of a few-shot adaptation, one typed dataclass (recorded in every style snapshot)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..background import check_background_choice
from ..eyes import check_eyes_choice
from .augment import CropRange, DiffAugmentConfig

GREY_CHOICES = ("auto", "on", "off")  # AdaptConfig.grey


@dataclass
class AdaptConfig:
    # budget: whichever ends first. `minutes` bounds the whole adapt call (reading, loading, training,
    # saving): the default keeps `artifygan adapt` under 3 minutes on any machine; the step limit ends it
    # sooner on a fast one. Steps at `batch_size` (on a GPU fewer, larger ones: `accelerator_batch`)
    steps: int = 600
    minutes: float = 2.75
    # resolution: photos and references are brought to `side` on their shorter side (the scale a face
    # is translated at in face mode) and trained on random `crop`² crops of it
    side: int = 256
    crop: int = 96
    batch_size: int = 4
    # on a GPU (or any device but the CPU): this batch, and the step limit divided by the same factor (the
    # same 2,400 crops seen). A GPU is idle at batch 4 of 96² crops, each step bound by the ~2,600 operations
    # Python issues (an H100 took over 60 s for 600 steps, target 30 s). Run on the CPU at exactly these
    # steps, the results stay within batch 4's seed-to-seed spread (docs/fewshot-experiments.md, "On a
    # GPU"). 0 = off
    accelerator_batch: int = 16
    max_photos: int = 300
    photo_crops: CropRange = field(default_factory=lambda: CropRange((0.45, 0.75), 5.0))
    # bundled example photos only: views from far more framings, rotations and colours
    strong_photo_crops: CropRange = field(default_factory=lambda: CropRange((0.3, 0.9), 15.0))
    strong_jitter: float = 0.25
    ref_crops: CropRange = field(default_factory=lambda: CropRange((0.35, 0.85), 5.0))  # multi-scale patches
    ref_pyramid: bool = False  # reference crops shrunk by > 1.5x sample a half-size copy (thin lines averaged)
    diffaug: DiffAugmentConfig = field(default_factory=DiffAugmentConfig)
    # networks
    discriminator: str = "patch"
    discriminator_args: dict[str, Any] = field(
        default_factory=lambda: {"base_ch": 16, "norm": "none", "spectral_norm": True})
    content: str = "inception"
    content_args: dict[str, Any] = field(default_factory=dict)
    style_layers: tuple[str, ...] = ("conv_4", "mixed_1")  # Gram layers (Inception names; others: output)
    colour_start: float = 0.0  # >0: fold a colour transfer to the references into G first (bitmoji: no better)
    # which style loss: auto (the default: chosen from the references' flatness when adapt reads them,
    # choose.py), gram or match; adapt applies the named one's weights (STYLE_LOSSES) over the three below,
    # so the recorded name says what ran; custom: style_weight, nn_weight and nn_coverage as set by hand
    style_loss: str = "auto"
    # losses (LSGAN; weights tuned on the bitmoji/ukiyoe benchmark)
    content_weight: float = 2.0
    # what the content loss holds the output to: the photo's features, or those of the base model's output
    # for the photo (the style then moves away from an already-cartoon picture instead of from the photo)
    content_target: str = "photo"
    style_weight: float = 5e2
    style_gray: bool = False  # True: texture only (AnimeGAN); False: the references' colours too
    # nearest-neighbour feature matching on the same layers (matching.py; 0 = off): a local style loss, each
    # output feature pulled to its nearest reference feature; `nn_bank` reference features kept per layer
    nn_weight: float = 0.0
    nn_bank: int = 4096
    nn_coverage: float = 0.0  # and each reference feature pulled to its nearest output one, at this weight
    adversarial: float = 1.0
    feature_matching: float = 1.0
    edge_weight: float = 0.5  # edge-smoothed references as negatives
    # flat-colour priors (0 = off): the references' k-colour palette as a per-pixel target (palette.py);
    # the output ≈ its own edge-preserving smoothing where the photo is flat; no thin dark strokes there
    palette_weight: float = 0.0
    palette_size: int = 12
    flat_weight: float = 0.0
    stroke_weight: float = 0.0
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    ema: float = 0.98  # the saved generator is this moving average of the trained one (less flicker)
    # how far the saved style moves from the base model, in weight space: base + strength × (adapted − base);
    # below 1 a milder style (more of the base's look and structure), above 1 a stronger one
    strength: float = 1.0
    # the saved style's outputs keep the photo's colours outside the skin, chroma × this gain (0 = off):
    # adapting collapses colour onto the references' main tones (artifygan.photo_colour; measured in
    # docs/fewshot-experiments.md, "The photo's colours")
    photo_colour: float = 1.25
    # the saved style's backdrop (artifygan.background): auto = the references' plain backdrop when most of
    # them have one (avatar looks), else the photo's; keep = always the photo's; or a colour "#rrggbb"
    background: str = "auto"
    # the saved style's eyes (artifygan.eyes): auto = magnified when most references draw big eye whites
    # (avatar and cartoon looks), else the photo's; off = always the photo's; or a scale in (1, 2], e.g. "1.4"
    eyes: str = "auto"
    # black-and-white outputs (artifygan.photo_colour.recorded_grey): auto = when most references are black
    # and white (pencil, ink, manga), on = always, off = never; a grey style records no photo colours
    grey: str = "auto"
    seed: int = 0
    detect_faces: bool = True
    # with a progress callback: a zero-shot preview before the first step, then one every this many
    # seconds of the moving-average model (preview.py; 0 = none)
    preview_every_s: float = 15.0

    def for_device(self, device_type: str) -> AdaptConfig:
        """The settings a run on ``device_type`` ("cpu", "cuda", "mps") uses: see ``accelerator_batch``."""
        if device_type == "cpu" or self.accelerator_batch <= self.batch_size:
            return self
        k = self.accelerator_batch / self.batch_size
        return dataclasses.replace(self, batch_size=self.accelerator_batch, steps=max(1, round(self.steps / k)))

    def __post_init__(self) -> None:
        if not self.steps >= 1:
            raise ValueError(f"steps must be ≥ 1, got {self.steps}")
        if not (isinstance(self.minutes, int | float) and 0 < self.minutes < math.inf):  # nan fails too
            raise ValueError(f"minutes must be a positive number, got {self.minutes!r}")
        if self.accelerator_batch < 0:
            raise ValueError(f"accelerator_batch must be ≥ 0, got {self.accelerator_batch}")
        if self.content_target not in ("photo", "base"):
            raise ValueError(f"content_target must be 'photo' or 'base', got {self.content_target!r}")
        if self.preview_every_s < 0:
            raise ValueError(f"preview_every_s must be ≥ 0, got {self.preview_every_s}")
        if self.style_loss not in STYLE_LOSS_CHOICES:
            raise ValueError(f"style_loss must be one of {', '.join(STYLE_LOSS_CHOICES)}, got {self.style_loss!r}")
        if not 0 <= self.strength <= 2:
            raise ValueError(f"strength: must be between 0 and 2, got {self.strength}")
        if not 0 <= self.photo_colour <= 3:
            raise ValueError(f"photo_colour: must be between 0 (off) and 3, got {self.photo_colour}")
        for name, check in (("background", check_background_choice), ("eyes", check_eyes_choice)):
            try:
                check(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if self.grey not in GREY_CHOICES:
            raise ValueError(f"grey: must be one of {', '.join(GREY_CHOICES)}, got {self.grey!r}")
        if self.palette_size < 1:
            raise ValueError(f"palette_size must be ≥ 1, got {self.palette_size}")


# `artifygan adapt --style-loss`: which loss carries the style, as settings of the fields above
STYLE_LOSSES: dict[str, dict[str, Any]] = {
    # Gram statistics of the references' patches: their line texture and tones, everywhere alike (ink,
    # pencil and print looks; on bitmoji it draws hatching over skin, hair and background)
    "gram": {"style_weight": AdaptConfig.style_weight, "nn_weight": 0.0, "nn_coverage": 0.0},
    # nearest-neighbour matching both ways (matching.py): each region takes the look of the reference regions
    # it resembles, flat colour areas and outlines (avatar and vector looks); measured in
    # docs/fewshot-experiments.md
    "match": {"style_weight": 0.0, "nn_weight": 25.0, "nn_coverage": 1.0},
}


# what a user may ask for: "auto" lets adapt choose between the presets from the references
ASKABLE = ("auto", *STYLE_LOSSES)
STYLE_LOSS_CHOICES = (*ASKABLE, "custom")
STYLE_WEIGHTS = ("style_weight", "nn_weight", "nn_coverage")  # what a preset sets (adapt applies it again)


def with_style_loss(cfg: AdaptConfig, kind: str) -> AdaptConfig:
    """``cfg`` with the weights of one of :data:`STYLE_LOSSES`, or marked ``auto`` (adapt then chooses)."""
    if kind == "auto":
        return dataclasses.replace(cfg, style_loss="auto")
    if kind not in STYLE_LOSSES:
        raise ValueError(f"unknown style loss {kind!r}; choose {' or '.join(ASKABLE)}")
    return dataclasses.replace(cfg, style_loss=kind, **STYLE_LOSSES[kind])
