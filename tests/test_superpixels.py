"""The batched SLIC behind loss.structure: regions flatten, boundaries stay, the loss trains."""

import torch

from artifygan.config import LossConfig
from artifygan.losses import generator_loss
from artifygan.superpixels import flatten_superpixels, slic_labels


def _quadrants(n: int = 2, size: int = 64) -> torch.Tensor:
    x = torch.zeros(n, 3, size, size)
    h = size // 2
    x[:, :, :h, :h] = torch.tensor([0.8, -0.5, 0.1]).view(1, 3, 1, 1)
    x[:, :, :h, h:] = torch.tensor([-0.8, 0.5, 0.1]).view(1, 3, 1, 1)
    x[:, :, h:, : h + 8] = torch.tensor([0.2, 0.2, -0.9]).view(1, 3, 1, 1)  # an edge off the seed grid
    return x


def test_flattening_removes_noise_inside_regions_and_keeps_their_edges():
    torch.manual_seed(0)
    clean = _quadrants()
    noisy = clean + 0.05 * torch.randn_like(clean)
    flat = flatten_superpixels(noisy, cell=8)
    assert flat.shape == noisy.shape and not flat.requires_grad
    assert (flat - clean).abs().mean() < 0.2 * (noisy - clean).abs().mean()  # noise gone
    # no superpixel straddles the edge at column 40: every label is on one side of it only
    labels = slic_labels(noisy, cell=8)[0, 32:]
    left, right = set(labels[:, :40].unique().tolist()), set(labels[:, 40:].unique().tolist())
    assert not left & right


def test_a_flat_picture_is_its_own_flattening_and_sizes_need_not_divide():
    x = torch.full((1, 3, 50, 70), 0.3)
    assert torch.allclose(flatten_superpixels(x, cell=16), x)
    labels = slic_labels(torch.rand(1, 3, 50, 70), cell=16)
    assert labels.shape == (1, 50, 70) and int(labels.max()) < 4 * 5


def test_the_structure_term_pulls_the_output_towards_its_flat_copy():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 4, 3, padding=1)
    photo = _quadrants(1, 32)
    fake = (photo + 0.2 * torch.randn_like(photo)).requires_grad_(True)
    d_fake = torch.zeros(1, 1, 4, 4)
    cfg = LossConfig(content=0.0, adversarial=0.0, structure=1.0, structure_cell=8)
    out = generator_loss(cfg, net, photo, fake, d_fake)
    assert set(out.parts) >= {"structure"} and float(out.parts["structure"]) > 0
    out.total.backward()
    target = flatten_superpixels(fake, cell=8)
    step = fake.detach() - 0.5 * fake.grad / fake.grad.abs().max()
    assert (step - target).abs().mean() < (fake.detach() - target).abs().mean()
