import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from artifygan.models import DISCRIMINATORS, GENERATORS, load_generator, save_generator
from artifygan.models.flops import count_macs, count_params
from artifygan.models.snapshot import SnapshotError


@pytest.mark.parametrize("name", ["light", "cartoongan"])
@pytest.mark.parametrize("hw", [(32, 32), (64, 96), (40, 28)])
def test_generator_keeps_shape_and_range(name, hw):
    g = GENERATORS.build(name, {"n_blocks": 1})
    x = torch.rand(2, 3, *hw) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1


def test_parameter_and_mac_budgets():
    paper = GENERATORS.build("cartoongan")
    light = GENERATORS.build("light")
    # the paper's generator: ~11.1M parameters
    assert 11.0e6 < count_params(paper) < 11.2e6
    # the light generator's budget: <= 2M parameters and <= 3 GMACs at 256x256
    assert count_params(light) <= 2e6
    assert count_macs(light, 256) <= 3e9
    assert count_macs(paper, 256) > 10 * count_macs(light, 256)


@pytest.mark.parametrize("norm", ["instance", "batch", "layer", "none"])
@pytest.mark.parametrize("sn", [False, True])
def test_discriminator(norm, sn):
    d = DISCRIMINATORS.build("patch", {"norm": norm, "spectral_norm": sn, "base_ch": 8})
    out = d(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 1, 16, 16)
    if sn:
        assert any("parametrizations" in n for n, _ in d.named_parameters())


@pytest.mark.parametrize("extra, grid, field", [(0, 32, 37), (1, 16, 61), (2, 8, 109)])
def test_discriminator_extra_down_widens_its_view(extra, grid, field):
    torch.manual_seed(0)
    d = DISCRIMINATORS.build("patch", {"norm": "none", "base_ch": 8, "extra_down": extra})
    x = torch.zeros(1, 3, 128, 128, requires_grad=True)
    out = d(x)
    assert out.shape == (1, 1, grid, grid)
    out[0, 0, grid // 2, grid // 2].backward()  # the pixels one logit depends on: its receptive field
    rows = (x.grad.abs().sum((0, 1, 3)) > 0).nonzero()
    assert int(rows.max() - rows.min() + 1) == field
    if extra == 0:  # the default layout is unchanged: trained discriminators still load
        plain = DISCRIMINATORS.build("patch", {"norm": "none", "base_ch": 8})
        assert plain.state_dict().keys() == d.state_dict().keys()


def test_registry_errors():
    with pytest.raises(KeyError, match="unknown generator 'nope'"):
        GENERATORS.build("nope")
    with pytest.raises(KeyError, match="unknown argument"):
        GENERATORS.build("light", {"width": 3})


def test_snapshot_round_trip(tmp_path):
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 2})
    save_generator(g, "light", tmp_path / "snap", {"size": 64})
    g2, meta = load_generator(tmp_path / "snap")
    assert meta["size"] == 64 and meta["generator_args"]["ch"] == 8
    x = torch.rand(1, 3, 32, 32)
    g.eval()
    assert torch.equal(g(x), g2(x))
    # overwrite in place is atomic: the folder is replaced whole; a user's folder named like the old copy stays
    (tmp_path / ".snap.old").mkdir()
    (tmp_path / ".snap.old" / "mine.txt").write_text("keep me")
    save_generator(g, "light", tmp_path / "snap")
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == ["config.json", "model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snap.old", "snap"]
    assert (tmp_path / ".snap.old" / "mine.txt").read_text() == "keep me"


def test_a_failed_replace_leaves_the_old_snapshot_in_place(tmp_path, monkeypatch):
    from pathlib import Path
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    snap = save_generator(g, "light", tmp_path / "snap", {"size": 64})
    real = Path.rename

    def rename(self, target):
        if Path(target) == snap and self.name.startswith(".snap.") and ".old." not in self.name:
            raise OSError("disk gone")  # the new folder's move into place fails; the old one was set aside
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="disk gone"):
        save_generator(g, "light", snap, {"size": 96})
    assert json.loads((snap / "config.json").read_text())["size"] == 64  # not hidden under a dot-name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_broken_snapshots_name_the_file(tmp_path):
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    snap = save_generator(g, "light", tmp_path / "snap")
    w = snap / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(SnapshotError, match="model.safetensors"):
        load_generator(snap)
    (snap / "config.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="config.json"):
        load_generator(snap)
    (snap / "config.json").write_text(json.dumps({"generator": "light", "generator_args": {"ch": 16}}))
    save_generator(g, "light", tmp_path / "other")
    w.write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(SnapshotError, match="mismatched"):
        load_generator(snap)
    with pytest.raises(SnapshotError, match="missing"):
        load_generator(tmp_path / "nowhere")


def test_a_diverged_or_future_snapshot_is_refused_in_one_line(tmp_path):
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    with torch.no_grad():
        next(g.parameters())[0].fill_(float("nan"))
    snap = save_generator(g, "light", tmp_path / "nan")
    with pytest.raises(SnapshotError, match="model.safetensors: .*NaN or infinite"):  # it made black pictures
        load_generator(snap)
    ok = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "ok")
    meta = json.loads((ok / "config.json").read_text())
    (ok / "config.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(SnapshotError, match="format_version 99 is newer than this artifygan reads"):
        load_generator(ok)
    (ok / "config.json").write_text(json.dumps({**meta, "format_version": "1"}))
    with pytest.raises(SnapshotError, match="format_version must be a whole number, got '1'"):
        load_generator(ok)
    state = load_file(str(ok / "model.safetensors"))
    key = next(iter(state))
    save_file({**state, key: state[key].round().to(torch.int32)}, str(ok / "model.safetensors"))
    (ok / "config.json").write_text(json.dumps(meta))
    with pytest.raises(SnapshotError, match=f"{key} is stored as torch.int32, not as torch.float32"):
        load_generator(ok)  # it was cast to float silently: a tool that rounded the weights went unnoticed


def test_loading_a_snapshot_leaves_the_callers_random_stream_alone(tmp_path):
    """The build's random initialisation (overwritten by the weights) moved the global torch RNG, so adapt
    and from_pretrained changed what a caller's seeded code drew next."""
    snap = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "s")
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_generator(snap)
    assert torch.equal(torch.rand(3), expected)


def test_a_snapshot_from_before_down_pad_loads_with_the_zero_padding_it_was_trained_with(tmp_path):
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1, "down_pad": "zeros"})
    snap = save_generator(g, "light", tmp_path / "old")
    meta = json.loads((snap / "config.json").read_text())
    del meta["generator_args"]["down_pad"]
    (snap / "config.json").write_text(json.dumps(meta))
    net, loaded = load_generator(snap)
    assert loaded["generator_args"]["down_pad"] == "zeros" and net.config.down_pad == "zeros"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(x), g.eval()(x))  # reflect padding moved the edges of every output


@pytest.mark.parametrize("hw", [(32, 32), (64, 96), (40, 24)])
def test_fast_generator_keeps_shape_and_range(hw):
    g = GENERATORS.build("fast", {"ch": 8, "n_blocks": 1})
    x = torch.rand(2, 3, *hw) * 2 - 1
    y = g(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert g.stride == 8


def test_fast_generator_has_no_norm_layers_and_fits_the_budget():
    g = GENERATORS.build("fast")
    norms = (torch.nn.GroupNorm, torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d, torch.nn.LayerNorm)
    assert not [m for m in g.modules() if isinstance(m, norms)]
    convs = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.groups == 1 for c in convs) and len(convs) <= 20  # few, dense convolutions
    assert count_params(g) <= 2e6
    light = GENERATORS.build("light")
    assert count_macs(g, 256) < 0.75 * count_macs(light, 256)


def test_fast_generator_residual_gates_start_closed():
    g = GENERATORS.build("fast", {"ch": 8, "n_blocks": 2})
    gates = [p for n, p in g.named_parameters() if n.endswith("gate")]
    assert len(gates) == 2 and all(float(p) == 0.0 for p in gates)  # the body starts as the identity


def test_snapshot_folder_respects_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        snap = save_generator(GENERATORS.build("fast", {"ch": 8, "n_blocks": 1}), "fast", tmp_path / "snap")
    finally:
        os.umask(old)
    assert snap.stat().st_mode & 0o777 == 0o755  # was 0700 (mkdtemp): other users could not read it


def test_snapshot_asking_for_a_huge_generator_is_refused_before_allocating(tmp_path):
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    snap = save_generator(g, "light", tmp_path / "snap")
    (snap / "config.json").write_text(json.dumps({"generator": "light", "generator_args": {"ch": 3000}}))
    with pytest.raises(SnapshotError, match=r"config.json: .*parameters \(limit"):
        load_generator(snap)
    for k, v in (("ch", 1000000), ("n_blocks", 100000000)):  # n_blocks 1e8 filled 20 GB building on "meta"
        (snap / "config.json").write_text(json.dumps({"generator": "light", "generator_args": {k: v}}))
        with pytest.raises(SnapshotError, match=rf"generator_args.{k} = {v}: above 4096"):
            load_generator(snap)
    (snap / "config.json").write_text(json.dumps({"generator": "light", "generator_args": {"ch": 16, "n_blocks": 1}}))
    with pytest.raises(SnapshotError, match=r"mismatched weights \(Error\(s\) in loading state_dict .* size mismatch"):
        load_generator(snap)  # the weights are of ch 8: the message names a key, not only the class


def test_save_pretrained_round_trip_and_never_overwrites(tmp_path):
    from artifygan import Cartoonizer

    torch.manual_seed(0)
    snap = save_generator(GENERATORS.build("fast", {"ch": 8, "n_blocks": 1}), "fast", tmp_path / "a", {"size": 64})
    cz = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    out = cz.save_pretrained(tmp_path / "b")
    again = Cartoonizer.from_pretrained(out, device="cpu", backend="torch")
    assert again.meta["generator"] == "fast" and again.meta["size"] == 64
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert torch.equal(cz.forward(x), again.forward(x))
    with pytest.raises(FileExistsError, match="not empty"):
        cz.save_pretrained(tmp_path / "b")
    assert cz.save_pretrained(tmp_path / "b", overwrite=True) == out  # a snapshot folder: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    with pytest.raises(FileExistsError, match=r"holds files that are not a snapshot's \(thesis.txt\)"):
        cz.save_pretrained(mine, overwrite=True)  # it renamed the folder aside and deleted thesis.txt
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.txt"] and not list(tmp_path.glob(".mine*"))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt: is a file, not a snapshot folder"):
        cz.save_pretrained(tmp_path / "notes.txt", overwrite=True)
    with pytest.raises(NotADirectoryError, match="notes.txt is a file, not a folder"):
        cz.save_pretrained(tmp_path / "notes.txt" / "x")
    (tmp_path / "link").symlink_to(out)
    with pytest.raises(FileExistsError, match="link: is a link"):
        cz.save_pretrained(tmp_path / "link", overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "link").is_symlink()


def test_save_pretrained_records_the_steps_the_cartoonizer_runs(tmp_path):
    from artifygan import Cartoonizer

    default = Cartoonizer.from_pretrained(device="cpu")  # the bundled model: smoothing, skin step, validation
    same = json.loads((default.save_pretrained(tmp_path / "same") / "config.json").read_text())
    assert same["preprocess"] == default.meta["preprocess"] and "validation" in same
    bare = Cartoonizer.from_pretrained(device="cpu", smooth_input=False, clean_strokes=True)
    meta = json.loads((bare.save_pretrained(tmp_path / "bare") / "config.json").read_text())
    assert "preprocess" not in meta and "validation" not in meta  # scores measured with the other steps
    assert meta["postprocess"]["clean_strokes"] == {"k": 5, "tau": 0.1, "smooth_r": 2, "smooth_eps": 0.05}
    again = Cartoonizer.from_pretrained(tmp_path / "bare", device="cpu")
    assert again.smoothing is None and again.cleanup == bare.cleanup  # reloads as it was saved
    off = Cartoonizer.from_pretrained(device="cpu", clean_strokes=False)  # the skin step's erasing off too
    meta = json.loads((off.save_pretrained(tmp_path / "off") / "config.json").read_text())
    assert meta["preprocess"]["skin"]["strokes"] is False and "validation" not in meta


def test_snapshot_files_follow_the_umask_and_home_is_expanded(tmp_path, monkeypatch):
    import os

    from artifygan.models.snapshot import resolve_snapshot

    monkeypatch.setenv("HOME", str(tmp_path))
    old = os.umask(0o022)
    try:
        snap = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", "~/s")
    finally:
        os.umask(old)
    assert snap == tmp_path / "s" and not (tmp_path / "~").exists()
    assert {p.name: p.stat().st_mode & 0o777 for p in snap.iterdir()} == {"config.json": 0o644,
                                                                         "model.safetensors": 0o644}
    assert resolve_snapshot("~/s") == snap
    from artifygan.pretrained import default_model

    monkeypatch.chdir(tmp_path)
    assert resolve_snapshot("default") == default_model()  # the name of the bundled model (serve -m anime=default)
    (tmp_path / "default").mkdir()  # a folder of that name is the user's and wins
    with pytest.raises(SnapshotError, match="default: neither a snapshot folder"):
        resolve_snapshot("default")


def test_one_cache_folder_for_weights_and_onnx(tmp_path, monkeypatch):
    from artifygan.export import cached_onnx_path
    from artifygan.hub import cache_dir

    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" / "weights"
    snap = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "s")
    assert cached_onnx_path(snap).parent == tmp_path / "c" / "onnx"
    monkeypatch.delenv("ARTIFYGAN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("onnx") == tmp_path / "xdg" / "artifygan" / "onnx"


def test_a_copy_saved_with_the_backdrop_off_records_neither_backdrop_nor_eyes(tmp_path):
    """background=False ran without them, but the saved copy brought both back."""
    from artifygan import Cartoonizer

    from .conftest import with_meta

    torch.manual_seed(0)
    snap = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "a")
    styled = with_meta(snap, tmp_path / "styled", postprocess={
        "background": {"colour": "#ffffff", "feather": 1.5}, "eyes": {"scale": 1.5, "radius": 0.45}})
    off = Cartoonizer.from_pretrained(styled, device="cpu", background=False)
    assert off.background is None and off.eyes is None
    copy = Cartoonizer.from_pretrained(off.save_pretrained(tmp_path / "copy"), device="cpu")
    assert copy.background is None and copy.eyes is None
    kept = Cartoonizer.from_pretrained(styled, device="cpu").save_pretrained(tmp_path / "kept")
    assert set(json.loads((kept / "config.json").read_text())["postprocess"]) == {"background", "eyes"}


@pytest.mark.parametrize("pre", ["x", [1], 5, {"face_framing": {"eye_dist": 0}},
                                 {"face_framing": {"eye_y": float("inf")}}, {"face_framing": "wide"}])
def test_a_malformed_preprocess_fails_when_the_snapshot_loads(tmp_path, pre):
    """A preprocess that was not a mapping crashed face mode (HTTP 500 on the server, a traceback in
    translate); a face framing of 0 or inf warped faces into nothing."""
    from artifygan import Cartoonizer

    from .conftest import with_meta

    snap = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "a")
    bad = with_meta(snap, tmp_path / "bad", preprocess=pre)
    with pytest.raises(SnapshotError, match=r"bad/config.json: preprocess"):
        Cartoonizer.from_pretrained(bad, device="cpu")
