"""Few-shot styles (`artifygan adapt`): reference reading errors, a tiny adapt end to end, the CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan.cli import main
from artifygan.demo import synthetic_cartoon, synthetic_photo
from artifygan.imageio import ImageError
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.styles import AdaptConfig, StyleError, adapt, read_references
from artifygan.styles.augment import CropRange, DiffAugmentConfig, diff_augment, random_crops

TINY = dict(steps=3, minutes=5.0, side=48, crop=32, batch_size=2, content="vgg19",
            content_args={"pretrained": False, "layer": "relu2_2"}, style_layers=(),
            discriminator_args={"base_ch": 8, "norm": "none", "spectral_norm": True}, detect_faces=False,
            lr_g=1e-2, ema=0.0, preview_every_s=0.0)


def tiny_config(**kw) -> AdaptConfig:
    return AdaptConfig(**{**TINY, **kw})


@pytest.fixture(scope="module")
def style_data(tmp_path_factory) -> Path:
    """refs/: 2 synthetic cartoons (64² and 80×56), photos/: 4 synthetic photos (48²)."""
    root = tmp_path_factory.mktemp("style")
    rng = np.random.default_rng(1)
    (root / "refs").mkdir()
    (root / "photos").mkdir()
    synthetic_cartoon(rng, 64).save(root / "refs" / "a.png")
    synthetic_cartoon(rng, 80).resize((80, 56)).save(root / "refs" / "b.jpg")
    for i in range(4):
        synthetic_photo(rng, 48).save(root / "photos" / f"{i}.png")
    return root


def test_no_references_is_an_error(tmp_path):
    with pytest.raises(StyleError, match="no reference images"):
        read_references([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleError, match="empty: no images"):
        read_references([tmp_path / "empty"])
    with pytest.raises(StyleError, match="missing.png: no such file"):
        read_references([tmp_path / "missing.png"])


def test_unreadable_reference_is_named(tmp_path, style_data):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match="broken.jpg"):
        read_references([style_data / "refs" / "a.png", bad], detect=False)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.png").write_bytes((style_data / "refs" / "a.png").read_bytes())
    (folder / "truncated.png").write_bytes((style_data / "refs" / "a.png").read_bytes()[:60])
    with pytest.raises(ImageError, match="truncated.png"):
        read_references([folder], detect=False)


def test_more_than_ten_references_warns_and_uses_all(tmp_path):
    for i in range(11):
        Image.new("RGB", (20, 20), (i * 20, 0, 0)).save(tmp_path / f"{i:02d}.png")
    with pytest.warns(UserWarning, match="11 reference images"):
        refs = read_references([tmp_path], detect=False)
    assert len(refs) == 11 and refs[3].image.size == (20, 20) and len(refs[0].sha256) == 64


def test_augmentations_keep_shapes_and_range():
    gen = torch.Generator().manual_seed(0)
    imgs = [torch.rand(3, 40, 60) * 2 - 1, torch.rand(3, 50, 50) * 2 - 1]
    crops = random_crops(imgs, 5, 24, CropRange((0.4, 0.9), 10.0), gen)
    assert crops.shape == (5, 3, 24, 24) and crops.abs().max() <= 1.0 + 1e-5
    x = torch.zeros(4, 3, 16, 16, requires_grad=True)
    y = diff_augment(x + 0.5, DiffAugmentConfig(), gen)
    y.sum().backward()  # differentiable: G gets gradients through the augmentation
    assert y.shape == x.shape and x.grad is not None and (y == 0).any()  # cutout made holes


def test_batched_crops_equal_one_grid_sample_per_crop():
    import math

    import torch.nn.functional as F

    imgs = [torch.rand(3, 40, 60) * 2 - 1, torch.rand(3, 50, 50) * 2 - 1, torch.rand(3, 40, 60) * 2 - 1]
    rng = CropRange((0.4, 0.9), 10.0)
    crops = random_crops(imgs, 9, 24, rng, torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)  # the same draws, in the same order, one crop at a time
    for k in range(9):
        img = imgs[int(torch.randint(3, (1,), generator=gen))]
        h, w = img.shape[-2:]
        side = (0.4 + 0.5 * float(torch.rand((), generator=gen))) * min(h, w)
        sx, sy = side / w, side / h
        cx = (1 - sx) * (2 * float(torch.rand((), generator=gen)) - 1)
        cy = (1 - sy) * (2 * float(torch.rand((), generator=gen)) - 1)
        a = math.radians(10.0 * (2 * float(torch.rand((), generator=gen)) - 1))
        f = -1.0 if float(torch.rand((), generator=gen)) < 0.5 else 1.0
        theta = torch.tensor([[[f * sx * math.cos(a), -sy * math.sin(a) * h / w, cx],
                               [f * sx * math.sin(a) * w / h, sy * math.cos(a), cy]]])
        grid = F.affine_grid(theta, [1, 3, 24, 24], align_corners=False)
        one = F.grid_sample(img[None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        assert torch.equal(crops[k], one[0])  # batched by image size, bit for bit the per-crop result


def test_adapt_writes_a_loadable_snapshot_that_changes_the_output(tmp_path, style_data, tiny_snapshot):
    seen = []
    out = tmp_path / "styles" / "tiny"
    cz = adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, out=out,
               progress=seen.append, config=tiny_config(), device="cpu")
    assert [p.step for p in seen] == [1, 2, 3] and seen[-1].fraction == 1.0
    assert all(p.preview is None for p in seen)  # previews off (preview_every_s=0)
    assert sorted(f.name for f in out.iterdir()) == ["config.json", "model.safetensors"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left
    meta = json.loads((out / "config.json").read_text())
    refs = meta["style"]["references"]
    assert [r["file"] for r in refs] == ["a.png", "b.jpg"] and meta["style"]["steps"] == 3
    assert meta["generator"] == "light" and meta["generator_args"]["ch"] == 8

    photo = synthetic_photo(np.random.default_rng(7), 48)
    loaded = Cartoonizer.from_pretrained(out, device="cpu", backend="torch")
    base = Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")
    a, b, c = (np.asarray(m(photo), np.float32) for m in (loaded, base, cz))
    assert a.shape == (48, 48, 3)
    assert np.abs(a - b).mean() > 0.5  # the style changed the output
    assert np.abs(a - c).max() <= 1  # the returned Cartoonizer is the saved one


def test_previews_show_the_references_colours_at_once_then_the_model_as_it_learns(style_data, tiny_snapshot):
    seen = []
    adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, progress=seen.append,
          config=tiny_config(preview_every_s=1e-9), device="cpu")
    shots = [p.preview for p in seen]
    assert [p.step for p in seen] == [0, 1, 2, 3] and all(s is not None for s in shots)
    assert shots[0].size == (48, 48)  # a square of the first photo, at the side the style learns at
    # the zero-shot preview: the base model's output with the references' colour statistics
    photo = Image.open(sorted((style_data / "photos").iterdir())[0]).convert("RGB")
    base = np.asarray(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")(photo), np.float32)
    refs = np.concatenate([np.asarray(Image.open(f).convert("RGB"), np.float32).reshape(-1, 3)
                           for f in sorted((style_data / "refs").iterdir())])
    zero = np.asarray(shots[0], np.float32)
    assert np.abs(zero.reshape(-1, 3).mean(0) - refs.mean(0)).sum() < np.abs(base.reshape(-1, 3).mean(0)
                                                                              - refs.mean(0)).sum()
    assert np.abs(np.asarray(shots[-1], np.float32) - zero).mean() > 0.5  # later ones: the model as it learns
    # without a progress callback no preview is made (nothing would show it), and previews never change
    # what is learned: the zero-shot sample has its own random stream, the renders use copies
    kw = dict(photos=style_data / "photos", base=tiny_snapshot, device="cpu")
    quiet = adapt([style_data / "refs"], config=tiny_config(preview_every_s=1e-9), **kw)
    shown = adapt([style_data / "refs"], config=tiny_config(preview_every_s=1e-9), progress=lambda p: None, **kw)
    a, b = quiet.generator.state_dict(), shown.generator.state_dict()
    assert quiet.meta["style"]["steps"] == 3 and all(torch.equal(a[k], b[k]) for k in a)


def test_the_last_preview_is_the_style_saved_at_any_strength(style_data, tiny_snapshot):
    """The previews drew the unblended model: at strength 0 the last one differed from the saved style by
    55 grey levels (a code review's measurement)."""
    seen = []
    cz = adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, progress=seen.append,
               config=tiny_config(preview_every_s=1e-9, strength=0.0, lr_g=1e-2), device="cpu")
    photo = Image.open(sorted((style_data / "photos").iterdir())[0]).convert("RGB")
    side = seen[-1].preview.size[0]
    w, h = photo.size
    square = photo.crop(((w - min(w, h)) // 2, (h - min(w, h)) // 2, (w + min(w, h)) // 2, (h + min(w, h)) // 2))
    saved = np.asarray(cz(square.resize((side, side), Image.Resampling.BICUBIC)), np.float32)
    assert np.abs(np.asarray(seen[-1].preview, np.float32) - saved).mean() < 3


def test_strength_moves_the_style_along_the_line_from_the_base(style_data, tiny_snapshot):
    """strength s saves base + s × (adapted − base): 0 is the base itself, 0.5 the midpoint of the same run."""
    from artifygan.models import load_generator

    base = load_generator(tiny_snapshot)[0].state_dict()
    kw = dict(photos=style_data / "photos", base=tiny_snapshot, device="cpu")
    runs = {s: adapt([style_data / "refs"], config=tiny_config(strength=s), **kw) for s in (1.0, 0.5, 0.0)}
    full, half, zero = (runs[s].generator.state_dict() for s in (1.0, 0.5, 0.0))
    floats = [k for k in base if base[k].is_floating_point()]
    assert max((full[k] - base[k]).abs().max().item() for k in floats) > 1e-3  # the run moved the weights
    for k in floats:
        assert torch.equal(zero[k], base[k])
        torch.testing.assert_close(half[k], (base[k] + full[k]) / 2, rtol=0, atol=1e-6)
    assert runs[0.5].meta["style"]["config"]["strength"] == 0.5
    with pytest.raises(ValueError, match="strength"):
        tiny_config(strength=3.0)


def test_a_diverged_fine_tune_is_an_error_and_writes_no_folder(style_data, tiny_snapshot, tmp_path, monkeypatch):
    """It was saved: a style folder that every surface then refused to load, its name taken on a server."""
    import sys

    adapt_module = sys.modules["artifygan.styles.adapt"]  # the package's name `adapt` is the function
    real = adapt_module.train_style

    def diverging(*args, **kwargs):
        g, info = real(*args, **kwargs)
        with torch.no_grad():
            next(g.parameters()).view(-1)[0] = float("nan")
        return g, info

    monkeypatch.setattr(adapt_module, "train_style", diverging)
    with pytest.raises(StyleError, match=r"the fine-tune diverged \(.* is not finite\): nothing was saved"):
        adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, out=tmp_path / "s",
              config=tiny_config(steps=1), device="cpu")
    assert not (tmp_path / "s").exists() and list(tmp_path.iterdir()) == []


def test_adapt_in_memory_without_output(style_data, tiny_snapshot):
    cz = adapt(style_data / "refs" / "a.png", photos=style_data / "photos", base=tiny_snapshot,
               config=tiny_config(steps=1), device="cpu")
    assert cz.meta["style"]["steps"] == 1 and cz(Image.new("RGB", (40, 40))).size == (40, 40)


def test_adapt_is_reproducible_and_leaves_the_callers_random_stream_alone(style_data, tiny_snapshot):
    """A server adapts in a job thread: reseeding the process's torch RNG would reset everyone else's."""
    run = lambda: adapt(style_data / "refs" / "a.png", photos=style_data / "photos", base=tiny_snapshot,  # noqa: E731
                        config=tiny_config(steps=2), device="cpu")
    torch.manual_seed(123)
    first = run()
    assert torch.initial_seed() == 123  # not reseeded to the style's seed (0)
    torch.manual_seed(456)  # whatever the caller's stream, the style is the same
    second = run()
    for p, q in zip(first.generator.state_dict().values(), second.generator.state_dict().values(), strict=True):
        assert torch.equal(p, q)  # the same seed, the same style


def test_adapt_refuses_to_overwrite(tmp_path, style_data, tiny_snapshot):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(StyleError, match="not empty"):
        adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, out=out,
              config=tiny_config())
    assert (out / "notes.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


@pytest.mark.parametrize("kwargs, said", [
    ({"minutes": float("nan")}, "minutes must be a positive number, got nan"),  # ran without a time limit
    ({"minutes": "0.1"}, "minutes must be a positive number, got '0.1'"),
    ({"photos": []}, "photos: an empty list"),
    ({"photos": "/no/such/photos"}, "/no/such/photos: no such photo file or folder"),
])
def test_adapt_refuses_bad_arguments_in_one_line(style_data, tiny_snapshot, kwargs, said):
    args = {"photos": style_data / "photos", "base": tiny_snapshot, "config": tiny_config(), **kwargs}
    with pytest.raises(StyleError, match=re.escape(said)):
        adapt(style_data / "refs", **args)
    with pytest.raises(ValueError, match="steps must be ≥ 1, got 0"):
        tiny_config(steps=0)


def test_cli_exit_codes(tmp_path, style_data, tiny_snapshot, monkeypatch, capsys):
    out = tmp_path / "cli-style"
    with pytest.raises(SystemExit) as exc:
        main(["adapt", "-o", str(out)])  # no REF
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["adapt", str(style_data / "refs"), "-o", str(out), "--minutes", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["adapt", str(style_data / "refs"), "-o", str(out), "--strength", "2.5"])
    assert exc.value.code == 2 and "between 0 and 2" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert main(["adapt", str(bad), "-o", str(out), "-q"]) == 2
    assert "bad.png" in capsys.readouterr().err and not out.exists()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert main(["adapt", str(style_data / "refs"), "-o", str(dangling), "-q"]) == 2
    assert "dangling: is a broken symbolic link" in capsys.readouterr().err
    assert main(["adapt", str(style_data / "refs"), "-o", str(bad), "-q"]) == 2
    assert "bad.png: is an existing file" in capsys.readouterr().err and bad.read_bytes() == b"nope"

    import artifygan.styles

    monkeypatch.setattr(artifygan.styles, "AdaptConfig", tiny_config)
    argv = ["adapt", str(style_data / "refs"), "-o", str(out), "--photos", str(style_data / "photos"),
            "--base", str(tiny_snapshot), "--steps", "2", "--device", "cpu", "-q"]
    assert main([*argv, "--strength", "0.5"]) == 0
    assert "2 steps" in capsys.readouterr().out and (out / "model.safetensors").is_file()
    meta = json.loads((out / "config.json").read_text())
    assert meta["style"]["config"]["strength"] == 0.5
    assert meta["postprocess"]["photo_colour"] == {"gain": 1.25, "skin": True}  # the default: recorded
    assert meta["postprocess"]["background"]["colour"] == "#c6e4c4"  # the synthetic cartoons' flat backdrop
    assert main(argv) == 2  # second time: the folder exists
    assert "not empty" in capsys.readouterr().err

    # --preview FILE: a picture of the style so far, written atomically; an existing file is never replaced
    shot, out2 = tmp_path / "preview.png", tmp_path / "cli-style-2"
    assert main([*argv[:3], str(out2), *argv[4:], "--preview", str(shot)]) == 0
    assert Image.open(shot).size == (48, 48)
    assert main([*argv[:3], str(tmp_path / "cli-style-3"), *argv[4:], "--preview", str(shot)]) == 2
    assert "preview.png: already exists" in capsys.readouterr().err
    assert not (tmp_path / "cli-style-3").exists()
    inside = tmp_path / "cli-style-3" / "p.png"  # it would fill the style's folder, then the style is refused
    assert main([*argv[:3], str(tmp_path / "cli-style-3"), *argv[4:], "--preview", str(inside)]) == 2
    assert "may not be inside the style's folder" in capsys.readouterr().err
    assert not (tmp_path / "cli-style-3").exists()
    under_a_file = shot / "p.png"  # refused up front, in one line (it was a raw errno after the model loaded)
    assert main([*argv[:3], str(tmp_path / "cli-style-3"), *argv[4:], "--preview", str(under_a_file)]) == 2
    assert "p.png: cannot write: " in capsys.readouterr().err and not (tmp_path / "cli-style-3").exists()

    # --photo-colour 0: the style's own colours, no postprocess recorded; out of range: a usage error
    plain = tmp_path / "cli-style-4"
    assert main([*argv[:3], str(plain), *argv[4:], "--photo-colour", "0"]) == 0
    assert "photo_colour" not in json.loads((plain / "config.json").read_text())["postprocess"]
    with pytest.raises(SystemExit) as exc:
        main([*argv[:3], str(tmp_path / "cli-style-5"), *argv[4:], "--photo-colour", "4"])
    assert exc.value.code == 2 and "between 0 (off) and 3" in capsys.readouterr().err

    # --background keep: nothing recorded; --background COLOUR: that colour instead of the references' own
    kept, painted = tmp_path / "cli-style-6", tmp_path / "cli-style-8"
    assert main([*argv[:3], str(kept), *argv[4:], "--photo-colour", "0", "--background", "keep"]) == 0
    assert "postprocess" not in json.loads((kept / "config.json").read_text())
    assert main([*argv[:3], str(painted), *argv[4:], "--photo-colour", "0", "--background", "#ffffff"]) == 0
    assert json.loads((painted / "config.json").read_text())["postprocess"] == {
        "background": {"colour": "#ffffff", "feather": 1.5}}
    with pytest.raises(SystemExit) as exc:
        main([*argv[:3], str(tmp_path / "cli-style-7"), *argv[4:], "--background", "white"])
    assert exc.value.code == 2 and "#rrggbb" in capsys.readouterr().err


def test_colour_start_folds_exactly_into_the_output_conv(tiny_snapshot):
    from artifygan.models import load_generator
    from artifygan.styles.colour import fold_colour_transfer, preact_stats

    g, _ = load_generator(tiny_snapshot)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = g(x)
    refs = [torch.stack([torch.full((24, 24), v) for v in (0.6, 0.1, -0.4)]) + 0.05 * torch.randn(3, 24, 24)]
    assert fold_colour_transfer(g, x, refs, strength=1.0)
    with torch.no_grad():
        after = g(x)
    mu_ref, _ = preact_stats(refs[0][None])
    mu_out, _ = preact_stats(after)
    assert torch.allclose(mu_out, mu_ref, atol=0.05)  # the outputs now have the references' mean colour
    assert not torch.allclose(before, after)


def test_style_metadata_describes_a_photo_list_briefly(tmp_path):
    from artifygan.styles.adapt import describe_photos

    files = [tmp_path / "a" / f"{i}.jpg" for i in range(300)] + [tmp_path / "b" / "x.jpg"]
    text = describe_photos(files)
    assert text == f"301 files in {tmp_path / 'a'}, {tmp_path / 'b'}" and len(text) < 200
    assert describe_photos(tmp_path) == str(tmp_path)
    assert describe_photos(None).startswith("bundled example photos")
    (tmp_path / "mine").mkdir()  # a list of folders named each folder ("1 files in" its parent)
    assert describe_photos([tmp_path / "mine"]) == str(tmp_path / "mine")
    assert describe_photos([tmp_path / "mine", tmp_path / "b" / "x.jpg"]) == f"{tmp_path / 'mine'}, 1 files in " \
        f"{tmp_path / 'b'}"


def test_content_target_base_holds_the_output_to_the_base_models_output(style_data, tiny_snapshot):
    firsts = {}
    for target in ("photo", "base"):
        seen: list = []
        adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot,
              config=tiny_config(steps=1, content_target=target), device="cpu", progress=seen.append)
        firsts[target] = seen[0].losses["content"]
    # before any update the output *is* the base model's output: nothing to pull back; the photo is far
    assert firsts["base"] < 1e-6 < 1e-3 < firsts["photo"]
    with pytest.raises(ValueError, match="content_target"):
        tiny_config(content_target="reference")


def test_flat_colour_terms_enter_the_generator_loss(style_data, tiny_snapshot):
    seen: list = []
    adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, device="cpu",
          config=tiny_config(steps=1, palette_weight=1.0, palette_size=4, flat_weight=1.0, stroke_weight=1.0),
          progress=seen.append)
    losses = seen[0].losses
    assert {"palette", "flat", "strokes"} <= set(losses)
    assert 0 < losses["palette"] < 2 and losses["flat"] >= 0 and losses["strokes"] >= 0
    plain: list = []
    adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, device="cpu",
          config=tiny_config(steps=1), progress=plain.append)
    assert not {"palette", "flat", "strokes"} & set(plain[0].losses)  # off by default
    with pytest.raises(ValueError, match="palette_size"):
        tiny_config(palette_size=0)


def test_match_style_loss_replaces_the_gram_term_and_is_recorded(tmp_path, style_data, tiny_snapshot, monkeypatch):
    import artifygan.styles
    from artifygan.styles import with_style_loss

    monkeypatch.setattr(artifygan.styles, "AdaptConfig", tiny_config)
    out = tmp_path / "match"
    assert main(["adapt", str(style_data / "refs"), "-o", str(out), "--photos", str(style_data / "photos"),
                 "--base", str(tiny_snapshot), "--steps", "2", "--device", "cpu", "-q", "--style-loss", "match"]) == 0
    style = json.loads((out / "config.json").read_text())["style"]
    assert (style["config"]["style_weight"], style["config"]["nn_weight"], style["config"]["nn_coverage"]) == (0, 25, 1)
    assert "style" not in style["mean_losses"] and 0 < style["mean_losses"]["nn"] < 25 * 2  # cosine distance ≤ 2
    assert with_style_loss(tiny_config(), "gram").nn_weight == 0


def test_flat_share_counts_flat_pixels_at_one_scale():
    from artifygan.styles.choose import flat_share

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert flat_share(Image.new("RGB", (50, 30), (200, 100, 50))) == 1.0
    assert flat_share(Image.fromarray(noise)) == 0.0
    half = np.concatenate([np.full((64, 32, 3), 90, np.uint8), noise[:, :32]], 1)
    assert 0.45 <= flat_share(Image.fromarray(half)) <= 0.5  # the column at the seam is not flat
    # the same picture at another size: the same figure (measured on the centre square at 128²)
    big = Image.fromarray(half).resize((256, 256), Image.Resampling.NEAREST)
    assert abs(flat_share(big) - flat_share(Image.fromarray(half))) < 0.03


def test_auto_chooses_match_for_flat_references_and_gram_for_texture():
    from artifygan.styles import choose_style_loss
    from artifygan.styles.choose import MATCH_FROM

    rng = np.random.default_rng(2)
    flat = [synthetic_cartoon(rng, 64) for _ in range(2)]
    textured = [Image.fromarray(rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)) for _ in range(2)]
    a, b = choose_style_loss(flat), choose_style_loss(textured)
    assert (a.kind, b.kind) == ("match", "gram") and a.flat_share >= MATCH_FROM > b.flat_share == 0.0
    assert choose_style_loss(flat + textured * 3).kind == "gram"  # the mean over all references decides
    with pytest.raises(ValueError, match="at least one reference"):
        choose_style_loss([])


def test_style_loss_setting_is_checked_and_auto_keeps_the_weights():
    from artifygan.styles import with_style_loss

    auto = with_style_loss(tiny_config(nn_weight=3.0), "auto")
    assert (auto.style_loss, auto.nn_weight) == ("auto", 3.0)  # adapt replaces them once it has chosen
    assert with_style_loss(tiny_config(), "match").style_loss == "match"
    with pytest.raises(ValueError, match="choose auto or gram or match"):
        with_style_loss(tiny_config(), "hatching")
    with pytest.raises(ValueError, match="style_loss must be one of auto, gram, match, custom"):
        tiny_config(style_loss="hatching")


@pytest.mark.parametrize("refs, kind", [("flat", "match"), ("noise", "gram")])
def test_adapt_by_default_chooses_the_loss_from_the_references_and_records_why(tmp_path, style_data, tiny_snapshot,
                                                                                refs, kind, caplog):
    folder = style_data / "refs"
    if refs == "noise":
        folder = tmp_path / "noise"
        folder.mkdir()
        rng = np.random.default_rng(3)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "auto"
    adapt([folder], photos=style_data / "photos", base=tiny_snapshot, out=out,
          config=tiny_config(steps=1, nn_weight=3.0), device="cpu")
    style = json.loads((out / "config.json").read_text())["style"]
    choice = style["style_loss_choice"]
    assert choice["asked"] == "auto" and choice["kind"] == style["config"]["style_loss"] == kind
    assert (choice["flat_share"] >= choice["threshold"]) == (kind == "match")
    weights = (style["config"]["style_weight"], style["config"]["nn_weight"])
    assert weights == ((0, 25) if kind == "match" else (500, 0))  # the chosen preset's, not the 3.0 given
    assert "style_loss 'auto' replaces the nn_weight you set" in caplog.text  # and the user is told so
    explicit = tmp_path / "custom"
    adapt([folder], photos=style_data / "photos", base=tiny_snapshot, out=explicit,
          config=tiny_config(steps=1, nn_weight=3.0, style_loss="custom"), device="cpu")
    style = json.loads((explicit / "config.json").read_text())["style"]
    assert "style_loss_choice" not in style and style["config"]["nn_weight"] == 3.0  # custom: as set


def test_a_named_style_loss_runs_its_own_weights(tmp_path, style_data, tiny_snapshot, caplog):
    """AdaptConfig(style_loss="match") without the weights (a config file, bench --set): adapt applies
    match's weights, so the name recorded in config.json says what ran."""
    out = tmp_path / "named"
    adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, out=out,
          config=tiny_config(steps=1, style_loss="match"), device="cpu")
    config = json.loads((out / "config.json").read_text())["style"]["config"]
    assert (config["style_loss"], config["style_weight"], config["nn_weight"], config["nn_coverage"]) == (
        "match", 0, 25, 1)
    assert "replaces" not in caplog.text  # nothing was set by hand
    adapt([style_data / "refs"], photos=style_data / "photos", base=tiny_snapshot, out=tmp_path / "named-30",
          config=tiny_config(steps=1, style_loss="match", nn_weight=30.0), device="cpu")
    assert "style_loss 'match' replaces the nn_weight you set" in caplog.text


def test_an_opencv_without_the_cascade_classifier_is_named_or_skipped(tmp_path, monkeypatch):
    """OpenCV 5 moved the cascade classifier to contrib (a lent GPU machine had it): an explicit cascade
    fails with a one-line reason; a cascade found on its own is skipped and the references used whole."""
    import cv2

    from artifygan.faces import AnimeFaceDetector
    from artifygan.styles.references import anime_detector

    xml = tmp_path / "cascade.xml"
    xml.write_text("<opencv_storage></opencv_storage>")
    monkeypatch.delattr(cv2, "CascadeClassifier")
    with pytest.raises(ValueError, match=r"cascade\.xml: this OpenCV .* has no cv2\.CascadeClassifier"):
        AnimeFaceDetector(xml, download=False)
    with pytest.raises(ValueError, match="CascadeClassifier"):
        anime_detector(xml)
    monkeypatch.setenv("ARTIFYGAN_ANIME_CASCADE", str(xml))
    assert anime_detector(None) is None
    ref = tmp_path / "ref.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(ref)
    (read,) = read_references([ref])
    assert read.face is False and read.image.size == (64, 64)


def test_the_anime_cascade_is_fetched_into_the_cache_when_none_is_given(tmp_path, monkeypatch):
    """Without $ARTIFYGAN_ANIME_CASCADE a fresh install never cropped a reference to its face: the cascade
    was looked up with downloads off. Offline, the references are used whole, as before."""
    import cv2

    from artifygan.faces import ANIME_URL
    from artifygan.styles.references import anime_detector

    monkeypatch.delenv("ARTIFYGAN_ANIME_CASCADE")
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "cache"))
    fetched: list[str] = []

    def fake_download(url, dst):  # any valid cascade file stands in for nagadomi's
        fetched.append(url)
        shutil.copy(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml", dst)

    monkeypatch.setattr("artifygan.hub._download", fake_download)
    detector = anime_detector(None)
    assert detector is not None and fetched == [ANIME_URL]
    assert (tmp_path / "cache" / "weights" / "lbpcascade_animeface.xml").is_file()

    def offline(url, dst):
        raise OSError("no network")

    (tmp_path / "cache" / "weights" / "lbpcascade_animeface.xml").unlink()
    monkeypatch.setattr("artifygan.hub._download", offline)
    assert anime_detector(None) is None


def test_reference_crops_that_shrink_a_lot_average_thin_lines():
    """grid_sample's bilinear samples drop 1-px lines when a crop shrinks its region 2x (a fifth of a
    hatching's lines vanished, a code review measured); with ``ref_pyramid`` the half-size copy is sampled."""
    from artifygan.styles.augment import half_size

    img = torch.ones(3, 256, 256)
    img[:, :, ::7] = -1  # hatching: 1-px dark lines every 7 px
    plain = random_crops([img], 32, 96, CropRange((0.8, 0.85), 0.0, False), torch.Generator().manual_seed(0))
    averaged = random_crops([img], 32, 96, CropRange((0.8, 0.85), 0.0, False), torch.Generator().manual_seed(0),
                            half_size([img]))

    def lines(crops: torch.Tensor) -> float:  # dark runs across a crop's column profile, per crop
        dark = crops[:, 0].mean(1) < 0.9
        return float(((dark[:, 1:] & ~dark[:, :-1]).sum(1) + dark[:, 0]).float().mean())

    expected = 0.825 * 256 / 7  # lines in a crop of that side
    assert lines(plain) < 0.9 * expected < lines(averaged) < 1.1 * expected  # 26.1 and 30.7 of ~30.2
    small = random_crops([img], 8, 96, CropRange((0.3, 0.4), 0.0, False), torch.Generator().manual_seed(1),
                         half_size([img]))
    again = random_crops([img], 8, 96, CropRange((0.3, 0.4), 0.0, False), torch.Generator().manual_seed(1))
    assert torch.equal(small, again)  # crops that shrink less than 1.5x are the full-size ones


def test_a_gpu_takes_fewer_larger_steps_over_the_same_crops():
    cfg = AdaptConfig()
    assert cfg.for_device("cpu") is cfg
    gpu = cfg.for_device("cuda")
    assert (gpu.batch_size, gpu.steps) == (16, 150) and gpu.batch_size * gpu.steps == cfg.batch_size * cfg.steps
    assert AdaptConfig(steps=10).for_device("mps").steps == 2
    assert AdaptConfig(steps=1).for_device("cuda").steps == 1
    assert AdaptConfig(accelerator_batch=0).for_device("cuda") == AdaptConfig(accelerator_batch=0)
    with pytest.raises(ValueError, match="accelerator_batch"):
        AdaptConfig(accelerator_batch=-1)


def test_losses_read_a_step_late_are_the_same_losses(style_data, tiny_snapshot):
    """On a GPU the loop reads each step's losses during the next step (no sync per step): the callback
    sees the same numbers one step later, and the run's mean losses are unchanged."""
    from artifygan.models import load_generator
    from artifygan.styles.adapt import read_photos, train_style

    refs = read_references([style_data / "refs"], detect=False)
    photos, strong = read_photos(style_data / "photos", 48, 10, 0)
    runs = {}
    for lag in (False, True):
        seen: list = []
        g, _ = load_generator(tiny_snapshot, device="cpu")
        _, info = train_style(g, refs, photos, strong, tiny_config(steps=4), torch.device("cpu"), seen.append,
                              lag_losses=lag)
        runs[lag] = ([p.losses for p in seen], info["mean_losses"])
    (now, mean_now), (late, mean_late) = runs[False], runs[True]
    assert late[0] == {} and late[1:] == now[:-1] and now[0]["content"] > 0
    assert mean_late == mean_now and set(mean_now) >= {"d", "adv", "content"}


def test_every_surface_offers_exactly_the_style_losses_there_are():
    """The CLI spells its choices out (its --help must not import torch) and the web panel names them:
    both must stay the registry's keys."""
    from artifygan.cli import build_parser
    from artifygan.styles import ASKABLE, STYLE_LOSSES
    from artifygan.web.app import LOOKS

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    opt = next(a for a in sub.choices["adapt"]._actions if a.dest == "style_loss")
    assert set(opt.choices) == set(ASKABLE) == set(LOOKS.values()) == {"auto", *STYLE_LOSSES}
    assert opt.default == "auto" == next(iter(LOOKS.values()))  # the panel's first choice is its default


def test_a_bad_base_device_or_photos_path_fails_before_the_references_are_read(tmp_path, monkeypatch):
    from artifygan.models.snapshot import SnapshotError

    def never(*args, **kwargs):
        raise AssertionError("the references were read before the cheap checks")

    import sys

    monkeypatch.setattr(sys.modules["artifygan.styles.adapt"], "read_references", never)  # the module, not adapt()
    with pytest.raises(StyleError, match="nope: no such photo file or folder"):
        adapt([tmp_path], photos=tmp_path / "nope")
    with pytest.raises((SnapshotError, FileNotFoundError, ValueError), match="nope"):
        adapt([tmp_path], base=tmp_path / "nope")
    with pytest.raises(ValueError, match="device"):
        adapt([tmp_path], device="nodevice")


def test_a_photo_that_is_not_an_image_is_said_not_skipped_silently(style_data, tmp_path):
    """A text file named .png among --photos was left out without a word (translate and evaluate say it)."""
    from artifygan.styles.adapt import read_photos

    shutil.copytree(style_data / "photos", tmp_path / "photos")
    (tmp_path / "photos" / "notes.png").write_text("not a picture")
    n = len(list((style_data / "photos").iterdir()))
    with pytest.warns(UserWarning, match=r"skipping photo: .*notes\.png: not an image"):
        photos, _ = read_photos(tmp_path / "photos", 48, 50, 0)
    assert len(photos) == n
    with pytest.warns(UserWarning, match="notes.png"), pytest.raises(StyleError, match="none of the photos"):
        read_photos(tmp_path / "photos" / "notes.png", 48)


def test_the_working_folder_is_refused_before_training_and_at_save(tmp_path, monkeypatch, style_data, tiny_snapshot):
    """`adapt -o .` in an empty folder trained for minutes, then failed to save (Path('.') has no name)."""
    from artifygan.styles.adapt import check_output

    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in (".", "./", str(here)):
        with pytest.raises(StyleError, match="is the folder this runs in"):
            check_output(out)
    cz = Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")
    with pytest.raises(FileExistsError, match="is the folder this runs in"):
        cz.save_pretrained(".")
    assert list(here.iterdir()) == []
    cz.save_pretrained("sub/../mine/")  # a normalised name is written beside, not "sub/.."
    assert [p.name for p in here.iterdir()] == ["mine"]
    assert (here / "mine" / "config.json").is_file()
