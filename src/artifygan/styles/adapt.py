"""Few-shot styles: fine-tune a trained generator towards 1–10 reference pictures in minutes.

No StyleGAN prior (JoJoGAN, StyleGAN-NADA need one): the trained photo→cartoon generator already knows
how to simplify a face; a few hundred steps move its palette, lines and shading to the references':

- a patch discriminator on random multi-scale crops of the references (one picture, thousands of
  patches), with DiffAugment on real and fake so it cannot memorise them, edge-smoothed references as
  extra negatives (clear lines), and feature matching on its activations (a steadier signal than the
  adversarial loss alone);
- the content loss against the photo (identity and pose stay the photo's: the references never enter
  the generator, so their faces cannot be pasted) and a Gram style loss against the references;
- optional flat-colour priors, off by default (measured worse on bitmoji; docs/fewshot-experiments.md):
  the references' palette (palette.py) and issue 13's flat-surface and stroke terms.

The result is an ordinary snapshot folder every surface loads.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..cartoon_losses import flat_skin_loss, stroke_loss
from ..data.smoothing import edge_smooth
from ..device import adam, pick_device, seeded, to_memory_format
from ..imageio import centre_square, file_in_the_way, holds_working_folder, tensor_to_pil
from ..losses import discriminator_loss, g_adv_loss, gram, grayscale
from ..models import load_generator, save_generator
from ..models.registry import CONTENT_NETWORKS, DISCRIMINATORS
from .augment import diff_augment, half_size, photo_jitter, random_crops
from .choose import StyleChoice, choose_style_loss
from .colour import fold_colour_transfer
from .config import STYLE_WEIGHTS, AdaptConfig, with_style_loss
from .matching import feature_bank, nn_feature_loss
from .palette import palette_loss, reference_palette
from .postprocess import style_postprocess
from .preview import Previewer
from .references import PathLike, StyleError, photo_roots, read_photos, read_references

if TYPE_CHECKING:
    from ..inference.cartoonizer import Cartoonizer

log = logging.getLogger(__name__)
SAVE_RESERVE_S = 5.0


@dataclass
class AdaptProgress:
    """Handed to the progress callback after every step."""

    step: int
    steps: int
    elapsed: float  # seconds of training so far
    budget: float  # the time limit in seconds
    losses: dict[str, float]
    # a new preview (preview.py), on the calls that made one: step 0 zero-shot, then every preview_every_s
    preview: Image.Image | None = field(default=None, repr=False)

    @property
    def fraction(self) -> float:
        """How much of the budget (steps or time, whichever ends first) is spent, 0..1."""
        return min(1.0, max(self.step / max(self.steps, 1), self.elapsed / max(self.budget, 1e-9)))


ProgressFn = Callable[[AdaptProgress], None]


def check_output(out: PathLike) -> Path:
    """Refuse an existing non-empty output: a style folder is never overwritten."""
    p = Path(out).expanduser()
    if p.is_symlink() and not p.exists():
        raise StyleError(f"{p}: is a broken symbolic link; choose a new folder")
    if p.exists() and not p.is_dir():
        raise StyleError(f"{p}: is an existing file; adapt writes a folder and never overwrites, choose a new name")
    if p.exists() and any(p.iterdir()):
        raise StyleError(f"{p}: already exists and is not empty; adapt never overwrites, choose a new folder")
    if holds_working_folder(p):  # before minutes of training: the save could not replace it
        raise StyleError(f"{p}: is the folder this runs in; give the style a new folder's name, e.g. ./my-style")
    if blocked := file_in_the_way(p, p.parent):  # now, not after minutes of training, at the save
        raise StyleError(blocked)
    return p


class StyleFeatures:
    """Content features and Gram-layer features from one pass of the content network.

    For the Inception content network the style layers are read on the way to the content layer; for
    any other network its output serves both.
    """

    def __init__(self, net: nn.Module, style_layers: Sequence[str]) -> None:
        self.net = net
        inner = getattr(net, "net", None)
        self.layers = getattr(inner, "layers", None) if hasattr(net, "layer") else None
        self.content_layer: str = str(getattr(net, "layer", ""))
        names = [n for n, _ in self.layers.named_children()] if self.layers is not None else []
        self.style_layers = [s for s in style_layers if s in names]
        if self.layers is not None and len(self.style_layers) < len(style_layers):
            log.warning("style layers %s not in the content network; using %s", list(style_layers),
                        self.style_layers)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if self.layers is None or not self.style_layers:
            f = self.net(x)
            return f, [f]
        want = {*self.style_layers, self.content_layer}
        got: dict[str, torch.Tensor] = {}
        pad = getattr(self.net, "pad_input", None)  # the content network's own border padding
        if callable(pad):
            x = pad(x)
        for name, layer in self.layers.named_children():
            x = layer(x)
            if name in want:
                got[name] = x
                if len(got) == len(want):
                    break
        return got[self.content_layer], [got[s] for s in self.style_layers]


def d_forward(d: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(logits, activations after each LeakyReLU) of a sequential patch discriminator; else (logits, [])."""
    seq = getattr(d, "net", None)
    if not isinstance(seq, nn.Sequential):
        return d(x), []
    feats = []
    for layer in seq:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            feats.append(x)
    return x, feats


def describe_photos(photos: PathLike | Sequence[PathLike] | None) -> str:
    """What the style was learned on, short enough for config.json (a list of 300 files is not)."""
    if photos is None:
        return "bundled example photos (strong augmentation)"
    if isinstance(photos, str | os.PathLike):
        return str(photos)
    paths = [Path(p) for p in photos]
    folders = [str(p) for p in paths if p.is_dir()]  # named as given; how many photos: n_photos
    files = [p for p in paths if not p.is_dir()]
    parts = folders[:3] + (["…"] if len(folders) > 3 else [])
    if files:
        parents = sorted({str(p.parent) for p in files})
        parts.append(f"{len(files)} files in {', '.join(parents[:3])}{' …' if len(parents) > 3 else ''}")
    return ", ".join(parts)


def _uint8_to_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


@torch.no_grad()
def blend_weights(model: nn.Module, base_state: dict[str, torch.Tensor], strength: float) -> nn.Module:
    """``model`` moved to ``base + strength × (model − base)``, its floating-point tensors in place.

    Why: a style fine-tuned from a base stays in the base's basin, so points on the line between the two
    are working models (weight-space interpolation): a style's strength without another training run.
    """
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            t.copy_(torch.lerp(base_state[name].to(t.device, t.dtype), t, strength))
            if name.endswith("running_var"):  # a batch-norm base pushed past 1: a variance stays a variance
                t.clamp_(min=0)
    return model


def adapt(refs: Sequence[PathLike] | PathLike, photos: PathLike | Sequence[PathLike] | None = None,
          minutes: float | None = None, base: PathLike | None = None, out: PathLike | None = None,
          progress: ProgressFn | None = None, config: AdaptConfig | None = None, device: str = "auto",
          cascade: PathLike | None = None) -> Cartoonizer:
    """Learn a style from 1–10 reference pictures; returns a :class:`Cartoonizer` with it.

    ``photos``: face photos to learn on (default: the bundled examples, strongly augmented);
    ``minutes``: the training time limit (default ``config.minutes``); ``base``: the snapshot to start
    from (default: the bundled model); ``out``: write the style as a snapshot folder there (must not
    exist or be empty); ``progress``: called with an :class:`AdaptProgress` after every step, some
    carrying a preview picture (the first before any step).
    """
    from ..inference.cartoonizer import Cartoonizer, resolve_snapshot

    t_begin = time.perf_counter()
    cfg = config or AdaptConfig()
    if minutes is not None:
        try:  # the config's own check: a positive, finite number (nan passed "<= 0" and ran unbounded)
            cfg = dataclasses.replace(cfg, minutes=minutes)
        except ValueError as exc:
            raise StyleError(str(exc)) from None
    out_path = check_output(out) if out is not None else None
    snap = resolve_snapshot(base)  # the cheap checks first: a bad --base, device or --photos path costs no work
    dev = pick_device(device)
    if photos is not None:
        photo_roots(photos)
    references = read_references([refs] if isinstance(refs, str | os.PathLike) else refs, cascade,
                                 detect=cfg.detect_faces)
    pictures = [r.image for r in references]
    measured: dict[str, Any] = {}  # what the references measured for the recorded steps
    post = style_postprocess(cfg, pictures, measured=measured)
    cfg, choice = _resolve_style_loss(cfg, references)
    photo_list, strong = read_photos(photos, cfg.side, cfg.max_photos, cfg.seed)
    cfg = cfg.for_device(dev.type)
    generator, base_meta = load_generator(snap, device=str(dev))
    base_state = {k: v.detach().clone() for k, v in generator.state_dict().items()} if cfg.strength != 1 else None
    previewer = None
    if progress is not None and cfg.preview_every_s > 0:  # on the first photo, in the middle of its long side
        # no "preprocess": a style learns on unsmoothed photos and records no input smoothing, so neither
        # does its preview (the base's bilateral filter is not the style's)
        keys = ("generator", "generator_args", "size")
        shown: dict[str, Any] = {k: base_meta[k] for k in keys if k in base_meta}
        shown.update(post)  # the preview shows what the saved style will give
        blend = (lambda g: blend_weights(g, base_state, cfg.strength)) if base_state is not None else None
        previewer = Previewer(shown, centre_square(tensor_to_pil(photo_list[0])), cfg.preview_every_s, dev, blend)
    # `minutes` bounds the whole call: training gets what reading and loading left, less a few seconds to save
    budget = 60.0 * cfg.minutes - (time.perf_counter() - t_begin) - SAVE_RESERVE_S
    g_ema, info = train_style(generator, references, photo_list, strong, cfg, dev, progress, budget, previewer)
    if base_state is not None:
        blend_weights(g_ema, base_state, cfg.strength)
    if bad := [k for k, v in g_ema.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]:
        # saved, it is a style folder no surface loads (and its name taken on the server)
        raise StyleError(f"the fine-tune diverged ({bad[0]} is not finite): nothing was saved; adapt again, "
                         "with fewer --steps or a lower --strength")
    info["seconds"] = round(time.perf_counter() - t_begin, 1)

    meta = {k: base_meta[k] for k in ("size",) if k in base_meta}
    meta["name"] = out_path.name if out_path is not None else "style"
    meta["style"] = {
        "references": [{"file": r.path.name, "path": str(r.path.resolve()), "sha256": r.sha256,
                        "face_crop": r.face} for r in references],
        "base": str(snap), "base_name": base_meta.get("name"),
        "photos": describe_photos(photos),
        "n_photos": len(photo_list), **info, "config": dataclasses.asdict(cfg),
    }
    if measured:
        meta["style"]["references_measured"] = measured
    meta.update(post)  # every surface that loads the style applies it (Cartoonizer)
    if choice is not None:
        meta["style"]["style_loss_choice"] = {"asked": "auto", **dataclasses.asdict(choice)}
    if out_path is None:
        full = {"format_version": 1, "generator": base_meta["generator"],
                "generator_args": base_meta.get("generator_args", {}), **meta}
        return Cartoonizer(g_ema.cpu(), full, device=device)
    check_output(out_path)  # again: the folder may have appeared while training ran
    save_generator(g_ema, base_meta["generator"], out_path, extra=meta)
    log.info("style written to %s (%d steps, %.0f s)", out_path, info["steps"], info["seconds"])
    return Cartoonizer.from_pretrained(out_path, device=device)


def _resolve_style_loss(cfg: AdaptConfig, references: list) -> tuple[AdaptConfig, StyleChoice | None]:
    """``cfg`` with the weights of the style loss it names (``auto``: the one that suits the references,
    choose.py); ``custom`` keeps the weights as set. Weights set by hand under a preset's name are replaced,
    with a warning, so that the recorded name always says what ran."""
    if cfg.style_loss == "custom":
        return cfg, None
    named = AdaptConfig() if cfg.style_loss == "auto" else with_style_loss(AdaptConfig(), cfg.style_loss)
    if set_by_hand := [k for k in STYLE_WEIGHTS if getattr(cfg, k) not in (getattr(named, k), getattr(AdaptConfig, k))]:
        log.warning("style_loss %r replaces the %s you set; use style_loss='custom' to keep them",
                    cfg.style_loss, ", ".join(set_by_hand))
    choice = choose_style_loss([r.image for r in references]) if cfg.style_loss == "auto" else None
    if choice is not None:
        log.info("style loss: %s (flat share of the references %.2f; match from %.2f)", choice.kind,
                 choice.flat_share, choice.threshold)
    return with_style_loss(cfg, choice.kind if choice else cfg.style_loss), choice


def train_style(generator: nn.Module, references: list, photos: list[torch.Tensor], strong: bool,
                cfg: AdaptConfig, dev: torch.device, progress: ProgressFn | None = None,
                budget: float | None = None, previewer: Previewer | None = None,
                lag_losses: bool | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The fine-tune loop; returns (the moving-average generator in eval mode, what was done).

    ``budget``: seconds from entering this function (default ``cfg.minutes``); at least one step runs.
    ``previewer``: pictures for the progress callback (a zero-shot one first), counted in the budget.
    ``lag_losses``: hand the callback each step's losses one step late (default: on any device but the CPU).
    """
    t_start = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    refs_t = [r.tensor(cfg.side) for r in references]
    smooth_t = [_uint8_to_tensor(edge_smooth(np.asarray(tensor_to_pil(t)))) for t in refs_t]
    with seeded(cfg.seed):  # seeded networks, without reseeding the caller's (a server's) RNG
        d = DISCRIMINATORS.build(cfg.discriminator, cfg.discriminator_args).to(dev).train()
        content_net = CONTENT_NETWORKS.build(cfg.content, cfg.content_args).to(dev)
    feats = StyleFeatures(content_net, cfg.style_layers)
    photo_range = cfg.strong_photo_crops if strong else cfg.photo_crops
    b, c = cfg.batch_size, cfg.crop
    # the pictures go to the device once; each step's crops are then cut there (augment.random_crops)
    photos_d, refs_d, smooth_d = ([t.to(dev) for t in ts] for ts in (photos, refs_t, smooth_t))
    refs_half, smooth_half = (half_size(ts) if cfg.ref_pyramid else None for ts in (refs_d, smooth_d))

    with torch.no_grad():  # Gram targets: the mean over many reference patches; the same patches' features
        grams: list[torch.Tensor] | None = None  # are the nearest-neighbour bank (matching.py)
        ref_feats: list[list[torch.Tensor]] = []
        for _ in range(4):
            x = random_crops(refs_d, 8, c, cfg.ref_crops, gen)
            _, fs = feats(grayscale(x) if cfg.style_gray else x)
            g = [gram(f).mean(0) for f in fs]
            grams = g if grams is None else [a + bb for a, bb in zip(grams, g, strict=True)]
            if cfg.nn_weight > 0:
                ref_feats.append(fs)
        targets = [t / 4 for t in grams or []]
        bank_gen = torch.Generator().manual_seed(cfg.seed + 2)  # its own stream: training stays the same
        banks = [feature_bank(layer, cfg.nn_bank, bank_gen) for layer in zip(*ref_feats, strict=True)]

    palette = reference_palette(refs_t, cfg.palette_size, seed=cfg.seed).to(dev) if cfg.palette_weight > 0 else None
    if cfg.colour_start > 0:  # the references' palette before the first step (see colour.py)
        sample = random_crops(photos_d, 16, c, photo_range, gen)
        fold_colour_transfer(generator, sample, refs_t, cfg.colour_start)
    cl = bool(getattr(generator, "prefers_channels_last", False))  # 2-3x faster depthwise convs on CPU
    mf = torch.channels_last if cl else torch.contiguous_format
    generator = to_memory_format(generator, mf).train()
    g_ema = copy.deepcopy(generator).eval().requires_grad_(False)
    g_base = copy.deepcopy(g_ema) if cfg.content_target == "base" else None
    opt_g = adam(generator.parameters(), cfg.lr_g, cfg.betas, dev)  # fused on CUDA
    opt_d = adam(d.parameters(), cfg.lr_d, cfg.betas, dev)
    budget = 60.0 * cfg.minutes if budget is None else budget
    if previewer is not None and progress is not None:  # its own random stream: training stays the same
        sample = random_crops(photos_d, 16, c, photo_range, torch.Generator().manual_seed(cfg.seed + 1))
        progress(AdaptProgress(0, cfg.steps, time.perf_counter() - t_start, budget, {},
                               previewer.zero_shot(generator, sample, refs_t)))
    t0 = time.perf_counter()
    step = 0
    lag = dev.type != "cpu" if lag_losses is None else lag_losses  # no GPU sync per step (see below)
    names: list[str] = []
    total: torch.Tensor | None = None  # the losses summed on the device, read once at the end
    pending: torch.Tensor | None = None
    aug = lambda x: diff_augment(x, cfg.diffaug, gen)  # noqa: E731
    while step < cfg.steps and (step == 0 or time.perf_counter() - t_start < budget):
        photo = random_crops(photos_d, b, c, photo_range, gen)
        if strong:
            photo = photo_jitter(photo, cfg.strong_jitter, gen)
        photo = photo.contiguous(memory_format=mf)
        real = random_crops(refs_d, b, c, cfg.ref_crops, gen, refs_half)
        smooth = random_crops(smooth_d, b, c, cfg.ref_crops, gen, smooth_half)
        fake = generator(photo)

        logits_r, _ = d_forward(d, aug(real))  # its features: taken after this step, for feature matching
        logits_f, _ = d_forward(d, aug(fake.detach()))
        logits_s = d_forward(d, aug(smooth))[0] if cfg.edge_weight > 0 else None
        loss_d = discriminator_loss(logits_r, logits_f, logits_s, "lsgan", cfg.edge_weight)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        d.requires_grad_(False)
        logits_g, feats_g = d_forward(d, aug(fake))
        terms = {"adv": cfg.adversarial * g_adv_loss(logits_g, "lsgan")}
        if cfg.feature_matching > 0 and feats_g:
            with torch.no_grad():  # the real side through the discriminator as it is now, like the fake side
                feats_r = d_forward(d, aug(real))[1]  # (before its step, the target was 6-20% off)
            fm = torch.stack([F.l1_loss(fg.mean((0, 2, 3)), fr.detach().mean((0, 2, 3)))
                              for fg, fr in zip(feats_g, feats_r, strict=True)]).mean()
            terms["fm"] = cfg.feature_matching * fm
        with torch.no_grad():
            c_photo, _ = feats(photo if g_base is None else g_base(photo))
        c_fake, s_fake = feats(fake)
        if cfg.style_gray:
            _, s_fake = feats(grayscale(fake))
        terms["content"] = cfg.content_weight * F.l1_loss(c_fake, c_photo)
        if cfg.style_weight > 0:
            terms["style"] = cfg.style_weight * torch.stack([F.l1_loss(gram(f), t.expand(f.shape[0], -1, -1))
                                                             for f, t in zip(s_fake, targets, strict=True)]).sum()
        if banks:
            terms["nn"] = cfg.nn_weight * torch.stack([nn_feature_loss(f, bank, cfg.nn_coverage)
                                                       for f, bank in zip(s_fake, banks, strict=True)]).mean()
        if palette is not None:
            terms["palette"] = cfg.palette_weight * palette_loss(fake.float(), palette)
        if cfg.flat_weight > 0:
            terms["flat"] = cfg.flat_weight * flat_skin_loss(fake, photo, tau=0.1)
        if cfg.stroke_weight > 0:
            terms["strokes"] = cfg.stroke_weight * stroke_loss(fake, photo)
        loss_g = torch.stack([t.float() for t in terms.values()]).sum()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        d.requires_grad_(True)
        with torch.no_grad():
            decay = min(cfg.ema, (1 + step) / (10 + step))  # warm-up: short runs are not mostly the base
            torch._foreach_lerp_(list(g_ema.parameters()), list(generator.parameters()), 1 - decay)
            for be, bg in zip(g_ema.buffers(), generator.buffers(), strict=True):
                be.copy_(bg)
        step += 1
        names = ["d", *terms]
        now = torch.stack([loss_d.detach().float(), *(v.detach().float() for v in terms.values())])
        total = now if total is None else total + now
        if progress is not None:  # one read of all the losses; on a GPU the previous step's, whose kernels are
            # done by now while this step's are queued, so the GPU never waits for Python to read a number
            shown, pending = (pending, now) if lag else (now, None)
            losses = dict(zip(names, shown.tolist(), strict=True)) if shown is not None else {}
            shot = previewer.render(g_ema) if previewer is not None and previewer.due() else None
            progress(AdaptProgress(step, cfg.steps, time.perf_counter() - t_start, budget, losses, shot))
    means = (total / step).tolist() if total is not None else []
    info = {"steps": step, "seconds": round(time.perf_counter() - t_start, 1),
            "train_seconds": round(time.perf_counter() - t0, 1),
            "mean_losses": {k: round(v, 5) for k, v in zip(names, means, strict=True)}}
    return to_memory_format(g_ema, torch.contiguous_format).eval(), info
