"""Nearest-neighbour feature matching (few-shot styles): what the loss measures, and the bank."""

import torch

from artifygan.styles.matching import feature_bank, flat_features, nn_feature_loss


def test_zero_when_every_position_has_a_reference_twin():
    torch.manual_seed(0)
    ref = torch.randn(2, 8, 5, 5)
    bank = feature_bank([ref], 10_000, torch.Generator().manual_seed(0))
    assert bank.shape == (50, 8)
    assert torch.allclose(bank.norm(dim=1), torch.ones(50))
    fake = ref[:1, :, torch.randperm(5)] * 3.0  # shuffled positions, scaled: cosine ignores both
    assert nn_feature_loss(fake, bank).item() < 1e-5


def test_pulls_each_position_to_its_nearest_reference_not_the_average():
    """Two reference kinds (a, b): an output of a-like and b-like positions is already matched, although
    its global statistics (mean) differ from the references' mix; an unrelated output is not."""
    a, b = torch.zeros(8), torch.zeros(8)
    a[0], b[1] = 1.0, 1.0
    ref = torch.stack([a] * 20 + [b] * 5).t().reshape(1, 8, 5, 5)
    bank = feature_bank([ref], 100, torch.Generator().manual_seed(0))
    mostly_b = torch.stack([b] * 24 + [a]).t().reshape(1, 8, 5, 5)
    assert nn_feature_loss(mostly_b, bank).item() < 1e-6
    other = torch.zeros(1, 8, 5, 5)
    other[:, 2] = 1.0
    assert abs(nn_feature_loss(other, bank).item() - 1.0) < 1e-6  # orthogonal: cosine distance 1
    fake = (other + 0.5 * mostly_b).requires_grad_()
    nn_feature_loss(fake, bank).backward()
    assert fake.grad[0, 2].mean() > 0  # descending the loss lowers the unrelated channel


def test_bank_is_a_bounded_random_subset():
    feats = [torch.randn(4, 3, 6, 6), torch.randn(4, 3, 6, 6)]
    bank = feature_bank(feats, 100, torch.Generator().manual_seed(1))
    assert bank.shape == (100, 3)
    rows = flat_features(torch.cat(feats))
    dist = torch.cdist(bank, rows, compute_mode="donot_use_mm_for_euclid_dist")
    assert (dist.amin(dim=1) < 1e-6).all()  # every kept row is a reference row
