"""CartoonGAN losses plus the optional AnimeGAN-style extras.

Images are RGB in [-1, 1]. Discriminator outputs are logits (any shape).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .cartoon_losses import flat_skin_loss, stroke_loss
from .config import GAN_TYPES, LossConfig
from .models.face_structure import face_structure_loss
from .superpixels import flatten_superpixels


def _check_gan(kind: str) -> None:
    if kind not in GAN_TYPES:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {GAN_TYPES}")


def d_real_loss(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss pushing D to call these images real (cartoons)."""
    _check_gan(kind)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    if kind == "lsgan":
        return (logits - 1).pow(2).mean()
    return F.relu(1 - logits).mean()


def d_fake_loss(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss pushing D to call these images fake (G outputs, edge-smoothed cartoons)."""
    _check_gan(kind)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
    if kind == "lsgan":
        return logits.pow(2).mean()
    return F.relu(1 + logits).mean()


def g_adv_loss(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Generator's adversarial loss on D(G(photo))."""
    _check_gan(kind)
    if kind == "hinge":
        return -logits.mean()
    return d_real_loss(logits, kind)


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, d_smooth: torch.Tensor | None,
                       kind: str, edge_weight: float = 1.0) -> torch.Tensor:
    """Edge-promoting adversarial loss: real cartoons → real; G(photo) and smoothed cartoons → fake."""
    loss = d_real_loss(d_real, kind) + d_fake_loss(d_fake, kind)
    if d_smooth is not None:
        loss = loss + edge_weight * d_fake_loss(d_smooth, kind)
    return loss


def content_loss(feat_fake: torch.Tensor, feat_photo: torch.Tensor) -> torch.Tensor:
    """CartoonGAN's semantic content loss: L1 between content features."""
    return F.l1_loss(feat_fake, feat_photo)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma replicated to 3 channels, so the style loss ignores colour (AnimeGAN)."""
    y = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    return y.expand(-1, 3, -1, -1)


def gram(feat: torch.Tensor) -> torch.Tensor:
    """In fp32 also under autocast (which would run the product in bf16: a relative error of ~3e-3, more
    than the small differences the style loss is made of)."""
    b, c, h, w = feat.shape
    with torch.autocast(feat.device.type, enabled=False):
        f = feat.float().reshape(b, c, h * w)
        return f @ f.transpose(1, 2) / (c * h * w)


def style_loss(feat_fake_gray: torch.Tensor, feat_cartoon_gray: torch.Tensor) -> torch.Tensor:
    """L1 between Gram matrices of grayscale features (texture/line style without colour)."""
    return F.l1_loss(gram(feat_fake_gray), gram(feat_cartoon_gray))


def rgb_to_yuv(x: torch.Tensor) -> torch.Tensor:
    x = (x + 1) * 0.5
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.14714119 * r - 0.28886916 * g + 0.43601035 * b
    v = 0.61497538 * r - 0.51496512 * g - 0.10001026 * b
    return torch.stack([y, u, v], 1)


def color_loss(fake: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """AnimeGAN colour loss: L1 on Y, Huber on U and V, against the input photo."""
    a, b = rgb_to_yuv(fake), rgb_to_yuv(photo)
    return F.l1_loss(a[:, 0], b[:, 0]) + F.smooth_l1_loss(a[:, 1], b[:, 1]) + F.smooth_l1_loss(a[:, 2], b[:, 2])


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


@dataclass
class GeneratorLosses:
    total: torch.Tensor
    parts: dict[str, torch.Tensor]  # detached; converted to floats only when logged


def generator_loss(cfg: LossConfig, content_net: Callable[[torch.Tensor], torch.Tensor], photo: torch.Tensor,
                   fake: torch.Tensor, d_fake: torch.Tensor | None, cartoon: torch.Tensor | None = None,
                   teacher_out: torch.Tensor | None = None, d_side: dict[str, torch.Tensor] | None = None,
                   face_net: Callable[[torch.Tensor], list[torch.Tensor]] | None = None,
                   twin: torch.Tensor | None = None) -> GeneratorLosses:
    """Weighted sum of the generator's terms; ``d_fake=None`` is the initialisation phase (content and
    face structure only).

    ``d_side``: the second discriminators' logits on the output, by their loss key (``training.side_gans``);
    ``face_net``: the face detector's features (``models.face_structure``), needed when ``cfg.face > 0``;
    ``twin``: the output of the photo's shifted mirror image, mapped back (``inference.tta.shifted_mirror``),
    needed when ``cfg.equivariance > 0``: both sides are trained towards each other.
    """
    terms: dict[str, torch.Tensor] = {"content": fake.float().mean() * 0.0}  # logged even at weight 0
    feat_fake = content_net(fake) if cfg.content > 0 or (cfg.structure > 0 and d_fake is not None) else None
    if cfg.content > 0 and feat_fake is not None:  # 0: a pure distillation skips the content network
        with torch.no_grad():
            feat_photo = content_net(photo)
        terms["content"] = cfg.content * content_loss(feat_fake, feat_photo.detach())
    if cfg.face > 0:
        if face_net is None:
            raise ValueError("loss.face > 0 needs the face detector's features (face_net)")
        with torch.no_grad():
            face_photo = face_net(photo)
        terms["face"] = cfg.face * face_structure_loss(face_net(fake), [f.detach() for f in face_photo])
    if cfg.equivariance > 0:
        if twin is None:
            raise ValueError("loss.equivariance > 0 needs the output of the photo's shifted mirror image (twin)")
        terms["equivariance"] = cfg.equivariance * F.l1_loss(fake, twin.float())
    w_teacher = cfg.teacher_weight(adversarial=d_fake is not None)
    if w_teacher > 0 and teacher_out is not None:
        # the teacher may have seen only the first images of the batch (loss.teacher_adv_fraction)
        terms["teacher"] = w_teacher * F.l1_loss(fake[: teacher_out.shape[0]], teacher_out.float())
    if d_fake is not None:
        terms["adv"] = cfg.adversarial * g_adv_loss(d_fake, cfg.gan)
        for name, logits in (d_side or {}).items():
            terms[name] = getattr(cfg, name) * g_adv_loss(logits, cfg.gan)
        if cfg.style > 0 and cartoon is not None:
            with torch.no_grad():
                feat_c = content_net(grayscale(cartoon))
            terms["style"] = cfg.style * style_loss(content_net(grayscale(fake)), feat_c)
        if cfg.color > 0:
            terms["color"] = cfg.color * color_loss(fake, photo)
        if cfg.tv > 0:
            terms["tv"] = cfg.tv * tv_loss(fake)
        if cfg.flat_skin > 0:
            terms["flat_skin"] = cfg.flat_skin * flat_skin_loss(fake, photo)
        if cfg.strokes > 0:
            terms["strokes"] = cfg.strokes * stroke_loss(fake, photo)
        if cfg.structure > 0 and feat_fake is not None:
            with torch.no_grad():
                feat_flat = content_net(flatten_superpixels(fake, cfg.structure_cell))
            terms["structure"] = cfg.structure * content_loss(feat_fake, feat_flat)
    total = torch.stack([t.float() for t in terms.values()]).sum()
    return GeneratorLosses(total, {k: v.detach() for k, v in terms.items()})
