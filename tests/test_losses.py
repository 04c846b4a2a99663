import pytest
import torch

from artifygan import losses
from artifygan.config import LossConfig
from artifygan.models import DISCRIMINATORS, GENERATORS
from artifygan.models.content import VGG19Config, VGG19Features


@pytest.fixture(scope="module")
def content_net():
    torch.manual_seed(0)
    return VGG19Features(VGG19Config(layer="relu2_2", pretrained=False))


def test_content_and_adversarial_gradients_reach_generator(content_net):
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    d = DISCRIMINATORS.build("patch", {"base_ch": 8})
    photo = torch.rand(2, 3, 32, 32) * 2 - 1
    cartoon = torch.rand(2, 3, 32, 32) * 2 - 1
    cfg = LossConfig(style=1.0, color=1.0, tv=1.0)
    fake = g(photo)
    out = losses.generator_loss(cfg, content_net, photo, fake, d(fake), cartoon)
    assert set(out.parts) == {"content", "adv", "style", "color", "tv"}
    out.total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g.parameters())
    assert sum(p.grad.abs().sum() for p in g.parameters()) > 0


def test_init_phase_is_content_only(content_net):
    photo = torch.rand(1, 3, 32, 32) * 2 - 1
    out = losses.generator_loss(LossConfig(style=1, color=1, tv=1), content_net, photo, photo.clone(), None)
    assert set(out.parts) == {"content"} and out.total.item() == pytest.approx(0.0)


def test_extras_vanish_on_identical_inputs():
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert losses.color_loss(x, x) == 0
    assert losses.style_loss(x, x) == 0
    assert losses.tv_loss(torch.zeros(1, 3, 8, 8)) == 0
    assert losses.tv_loss(x) > 0


@pytest.mark.parametrize("kind", losses.GAN_TYPES)
def test_discriminator_separates_easy_toy_case(kind):
    """Flat images (real) vs noisy images (fake) vs blurred-edge images (smoothed): D must learn it."""
    torch.manual_seed(0)
    d = DISCRIMINATORS.build("patch", {"base_ch": 8, "norm": "none"})
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real = torch.zeros(4, 3, 32, 32)
    fake = torch.randn(4, 3, 32, 32).clamp(-1, 1)
    smooth = fake * 0.5
    for _ in range(60):
        loss = losses.discriminator_loss(d(real), d(fake), d(smooth), kind)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert d(real).mean() > d(fake).mean() + 0.5
        assert d(real).mean() > d(smooth).mean() + 0.5
        assert losses.g_adv_loss(d(fake), kind) > losses.g_adv_loss(d(real), kind)


def test_edge_promoting_term_counts():
    real, fake, smooth = torch.ones(4), torch.zeros(4), torch.ones(4)
    without = losses.discriminator_loss(real, fake, None, "lsgan")
    with_edges = losses.discriminator_loss(real, fake, smooth, "lsgan", edge_weight=2.0)
    assert without == 0 and with_edges == pytest.approx(2.0)
    with pytest.raises(ValueError, match="unknown GAN loss"):
        losses.d_real_loss(real, "wgan")


def test_teacher_term_uses_its_phase_weight_and_the_images_the_teacher_saw(content_net):
    from artifygan.training.loop import teacher_images

    photo = torch.rand(4, 3, 16, 16) * 2 - 1
    fake = torch.zeros(4, 3, 16, 16)
    fake[2:] = 5.0  # images the teacher did not see must not count
    teacher_out = torch.full((2, 3, 16, 16), 0.5)
    cfg = LossConfig(content=0.0, teacher=10.0, teacher_adv=2.0)
    init = losses.generator_loss(cfg, content_net, photo, fake, None, teacher_out=teacher_out)
    adv = losses.generator_loss(cfg, content_net, photo, fake, torch.ones(4, 1, 4, 4), teacher_out=teacher_out)
    assert init.parts["teacher"].item() == pytest.approx(10 * 0.5)
    assert adv.parts["teacher"].item() == pytest.approx(2 * 0.5)
    assert teacher_images(8, LossConfig(teacher_adv_fraction=0.25)) == 2
    assert teacher_images(3, LossConfig(teacher_adv_fraction=0.1)) == 1


def test_equivariance_is_zero_for_a_mirror_equivariant_map_and_trains_both_copies(content_net):
    from artifygan.inference.tta import shifted_mirror

    photo = torch.rand(2, 3, 32, 32) * 2 - 1
    cfg = LossConfig(equivariance=2.0)
    same = losses.generator_loss(cfg, content_net, photo, photo.clone(), None, twin=shifted_mirror(lambda z: z, photo))
    assert same.parts["equivariance"].item() == pytest.approx(0.0, abs=1e-6)  # both phases: present in init too
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    fake, twin = g(photo), shifted_mirror(g, photo)
    out = losses.generator_loss(cfg, content_net, photo, fake, None, twin=twin)
    assert out.parts["equivariance"].item() == pytest.approx(2.0 * (fake - twin).abs().mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="twin"):
        losses.generator_loss(cfg, content_net, photo, fake, None)
