"""The few-shot flat-colour prior: the references' palette, nearest-colour targets and the adapt terms."""

from __future__ import annotations

import pytest
import torch

from artifygan.styles.palette import nearest_palette, palette_loss, reference_palette

COLOURS = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [0.8, 0.2, -0.2]])  # white, black, skin


def three_colour_image(h: int = 30, w: int = 40) -> torch.Tensor:
    img = torch.empty(3, h, w)
    img[:, :, : w // 2] = COLOURS[0].view(3, 1, 1)
    img[:, : h // 3, w // 2:] = COLOURS[1].view(3, 1, 1)  # a small dark area still gets its own centre
    img[:, h // 3:, w // 2:] = COLOURS[2].view(3, 1, 1)
    return img


def test_palette_finds_the_references_flat_colours():
    pal = reference_palette([three_colour_image(), three_colour_image(20, 20)], k=3)
    assert pal.shape == (3, 3)
    dist = torch.cdist(COLOURS, pal)  # every true colour has a centre on it
    assert dist.min(1).values.max() < 1e-4
    with pytest.raises(ValueError, match="at least one"):
        reference_palette([], 3)


def test_nearest_palette_and_loss_are_zero_on_a_picture_in_the_palette_and_pull_others_towards_it():
    pal = COLOURS.clone()
    img = three_colour_image().unsqueeze(0)
    assert torch.equal(nearest_palette(img, pal), img) and palette_loss(img, pal).item() == 0.0
    grey = torch.full((1, 3, 4, 4), 0.6, requires_grad=True)  # nearest: white (distance 0.69 vs skin 0.96)
    loss = palette_loss(grey, pal)
    assert loss.item() == pytest.approx(0.4)
    loss.backward()
    assert (grey.grad < 0).all()  # a step against the gradient brightens it, towards white
