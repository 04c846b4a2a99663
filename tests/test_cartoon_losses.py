"""Guided filter and the clean-surface losses built on it (tiny CPU tensors)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from artifygan.cartoon_losses import (
    StrokeCleanup,
    box_filter,
    clean_strokes,
    flat_skin_loss,
    flat_skin_weight,
    grey_closing,
    guided_filter,
    postprocess_settings,
    random_color_shift,
    stroke_loss,
    surface,
)


def step_with_noise(size: int = 32, sigma: float = 0.05, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean): left half −0.6, right half +0.6, plus Gaussian noise; (1, 3, size, size)."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.full((1, 3, size, size), -0.6)
    clean[..., size // 2:] = 0.6
    return clean + sigma * torch.randn(clean.shape, generator=g), clean


def test_box_filter_is_the_window_mean_with_borders_normalised():
    x = torch.arange(25.0).view(1, 1, 5, 5)
    y = box_filter(x, 1)
    assert y[0, 0, 2, 2] == pytest.approx(x[0, 0, 1:4, 1:4].mean().item())
    assert y[0, 0, 0, 0] == pytest.approx(x[0, 0, :2, :2].mean().item())  # 4 pixels inside, not 9
    with pytest.raises(ValueError, match="radius"):
        box_filter(x, 0)


@pytest.mark.parametrize("shape", [(2, 3, 13, 21), (1, 1, 4, 3)])
@pytest.mark.parametrize("r", [1, 2, 5])
def test_box_filter_equals_the_plain_window_mean(shape: tuple[int, ...], r: int):
    """The cumulative-sum form gives avg_pool2d's border-normalised means, also for windows wider than the image."""
    x = torch.rand(shape, generator=torch.Generator().manual_seed(r)) * 2 - 1
    ref = nn.functional.avg_pool2d(nn.functional.pad(x, (r, r, r, r)), 2 * r + 1, 1)
    ones = nn.functional.avg_pool2d(nn.functional.pad(torch.ones_like(x), (r, r, r, r)), 2 * r + 1, 1)
    torch.testing.assert_close(box_filter(x, r), ref / ones, atol=1e-6, rtol=0)
    assert box_filter(x.bfloat16(), r).dtype == torch.bfloat16


def test_self_guided_shortcut_equals_the_general_filter():
    noisy, _ = step_with_noise(size=24)
    other = noisy.clone()  # same values, another tensor: takes the general path
    torch.testing.assert_close(guided_filter(noisy, noisy, 3, 0.05), guided_filter(other, noisy, 3, 0.05))


def test_guided_filter_keeps_a_step_edge_and_flattens_noise():
    noisy, clean = step_with_noise()
    out = guided_filter(noisy, noisy, r=4, eps=0.01)
    left, right = out[..., 2:-2, :12], out[..., 2:-2, 20:]
    assert left.std() < noisy[..., 2:-2, :12].std() / 3  # noise flattened
    assert right.std() < noisy[..., 2:-2, 20:].std() / 3
    # the edge stays sharp: one pixel either side of it is still within 0.1 of the plateau
    assert out[..., 15].mean() == pytest.approx(-0.6, abs=0.1) and out[..., 16].mean() == pytest.approx(0.6, abs=0.1)
    blurred = box_filter(noisy, 4)  # a plain blur smears the same edge
    assert blurred[..., 15].mean() > -0.2
    assert (out - clean).abs().mean() < 0.5 * (noisy - clean).abs().mean()


def test_guided_filter_by_a_grey_guide_and_shape_checks():
    noisy, _ = step_with_noise()
    out = guided_filter(noisy.mean(1, keepdim=True), noisy, r=3, eps=0.01)
    assert out.shape == noisy.shape and out.dtype == noisy.dtype
    with pytest.raises(ValueError, match="does not fit"):
        guided_filter(noisy[:, :2], noisy)
    half = guided_filter(noisy.half(), noisy.half(), r=3)
    assert half.dtype == torch.float16 and torch.isfinite(half).all()


def test_gradients_flow_through_the_guided_filter_and_flat_skin_loss():
    noisy, _ = step_with_noise()
    x = noisy.clone().requires_grad_(True)
    surface(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    fake = noisy.clone().requires_grad_(True)
    loss = flat_skin_loss(fake, noisy)
    loss.backward()
    assert loss.ndim == 0 and loss.item() > 0
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def _cheek_and_eye(size: int = 32) -> torch.Tensor:
    """A flat 'cheek' on the left half and a busy 'eye' (checkerboard) on the right: (1, 3, size, size)."""
    photo = torch.full((1, 3, size, size), 0.3)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = ((yy // 2 + xx // 2) % 2).float() * 0.8 - 0.4
    photo[..., size // 2:] = checker[:, size // 2:]
    return photo


def test_flat_skin_weight_is_high_on_smooth_skin_and_low_on_detail():
    w = flat_skin_weight(_cheek_and_eye())
    assert w.shape == (1, 1, 32, 32) and not w.requires_grad
    assert w[..., 4:-4, 2:10].min() > 0.9 and w[..., 4:-4, 22:30].max() < 0.05


def test_strokes_on_smooth_skin_cost_more_than_clean_skin_or_strokes_where_the_photo_has_detail():
    photo = _cheek_and_eye()
    clean = photo.clone()
    clean[..., :16] = 0.35  # a flat cartoon cheek
    on_cheek, on_eye = clean.clone(), clean.clone()
    on_cheek[..., 8:24:4, 2:14] = -0.2  # thin dark strokes across the cheek
    on_eye[..., 8:24:4, 18:30] -= 0.55  # the same strokes where the photo is busy
    l_clean, l_cheek, l_eye = (flat_skin_loss(x, photo).item() for x in (clean, on_cheek, on_eye))
    assert l_cheek > 5 * l_clean  # (clean pays a little where the busy half meets the cheek)
    assert l_cheek > 4 * l_eye
    assert flat_skin_loss(torch.full_like(photo, 0.35), photo).item() < 1e-5


def test_random_color_shift_is_a_grey_image_with_weights_near_the_luma_ones():
    x = torch.rand(4, 3, 8, 8) * 2 - 1
    g = random_color_shift(x, torch.Generator().manual_seed(0))
    assert g.shape == (4, 1, 8, 8)
    grey = torch.full((4, 3, 8, 8), 0.25)  # weights sum to 1: a grey image keeps its value
    assert torch.allclose(random_color_shift(grey), torch.full((4, 1, 8, 8), 0.25), atol=1e-6)
    luma = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert (g - luma).abs().max() < 0.3 and (g - luma).abs().max() > 1e-4


def test_closing_removes_thin_dark_lines_and_keeps_wide_dark_areas():
    x = torch.full((1, 1, 24, 24), 0.5)
    x[..., 5, :] = -0.5  # a 1-pixel dark line
    x[..., 12:21, 4:13] = -0.8  # a 9×9 dark block (an eye, a nostril)
    y = grey_closing(x, 5)
    assert torch.allclose(y[..., 5, :], torch.full((24,), 0.5))
    assert torch.allclose(y[..., 12:21, 4:13], x[..., 12:21, 4:13])
    with pytest.raises(ValueError, match="odd"):
        grey_closing(x, 4)


def test_clean_strokes_erases_strokes_on_flat_skin_and_keeps_lines_on_photo_edges():
    photo = torch.full((1, 3, 32, 32), 0.3)
    photo[..., 20:, :] = -0.6  # the photo has an edge at row 20 (a jaw line), flat elsewhere
    out = torch.full((1, 3, 32, 32), 0.4)
    out[..., 8, :] = -0.4  # a crack across the "cheek": the photo is flat there
    out[..., 20, :] = -0.4  # a contour line on the photo's edge
    clean = clean_strokes(out, photo, StrokeCleanup(k=3, smooth_r=0))
    assert (clean[..., 8, 4:-4] - 0.4).abs().max() < 0.01  # the crack is gone
    assert (clean[..., 20, 4:-4] + 0.4).abs().max() < 0.05  # the contour line stays


def test_stroke_loss_prices_thin_dark_lines_on_flat_skin_only_and_lifts_them():
    photo = torch.full((1, 3, 32, 32), 0.3)
    photo[..., 20:, :] = -0.6  # an edge at row 20 (a jaw line), flat elsewhere
    flat = torch.full((1, 3, 32, 32), 0.4)
    shaded = flat + torch.linspace(-0.3, 0.3, 32).view(1, 1, 1, 32)  # smooth shading: no stroke
    crack, contour, wide = flat.clone(), flat.clone(), flat.clone()
    crack[..., 8, :] = -0.4  # a thin dark line across the "cheek"
    contour[..., 20, :] = -0.4  # the same line on the photo's edge
    wide[..., 4:14, :] = -0.4  # a wide dark area (hair, shadow): not a stroke
    assert stroke_loss(flat, photo).item() < 1e-6 and stroke_loss(wide, photo).item() < 1e-6
    l_crack, l_contour = stroke_loss(crack, photo).item(), stroke_loss(contour, photo).item()
    assert l_crack > 0.02 and l_crack > 20 * l_contour
    assert stroke_loss(shaded, photo).item() < 0.1 * l_crack  # shading: only the image border's padding
    x = crack.clone().requires_grad_(True)
    stroke_loss(x, photo).backward()
    assert x.grad is not None and x.grad[..., 8, 4:-4].max() < 0  # descent raises the stroke pixels
    assert x.grad[..., 2, :].abs().max() == 0  # and leaves the clean skin alone


def test_postprocess_settings_read_the_snapshot_entry():
    assert postprocess_settings({}) is None
    assert postprocess_settings({"postprocess": {"clean_strokes": {"k": 7}}}) == StrokeCleanup(k=7)
    with pytest.raises(ValueError, match="unknown postprocess"):
        postprocess_settings({"postprocess": {"sharpen": {}}})
    with pytest.raises(ValueError, match="clean_strokes"):
        postprocess_settings({"postprocess": {"clean_strokes": {"radius": 3}}})
