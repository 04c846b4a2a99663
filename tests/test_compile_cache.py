"""The portable compile cache (`artifygan train --compile-cache`): written, read back, never fatal."""

import logging

import torch

from artifygan.cli import main
from artifygan.training import loop as loop_mod
from artifygan.training.compile_cache import MAGIC, load_compile_cache, may_replace_cache, save_compile_cache

from .conftest import TINY_OVERRIDES, tiny_config


def test_a_cache_round_trips_and_a_bad_one_only_warns(tmp_path, caplog):
    f = torch.compile(lambda x: (x.sin() * 2 + 1).relu())
    x = torch.randn(8)
    expected = (x.sin() * 2 + 1).relu()
    torch.testing.assert_close(f(x), expected)
    path = tmp_path / "cache" / "h100.bin"
    n_bytes = save_compile_cache(path)
    assert n_bytes > 0 and path.stat().st_size == n_bytes
    assert [p.name for p in path.parent.iterdir()] == ["h100.bin"]  # no temporary file left behind
    assert load_compile_cache(path) >= 1  # the graph compiled above: its Inductor and AOTAutograd entries
    assert load_compile_cache(tmp_path / "absent.bin") == 0
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING, logger="artifygan"):
        assert save_compile_cache(blocked / "cc.bin") == 0  # its folder cannot be made: warned, not raised
    assert "cc.bin: not written" in caplog.text
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a cache")
    with caplog.at_level(logging.WARNING, logger="artifygan"):
        assert load_compile_cache(junk) == 0
    assert "junk.bin: not loaded" in caplog.text
    with caplog.at_level(logging.WARNING, logger="artifygan"):
        assert save_compile_cache(junk, replace=False) == 0  # what a run does after that failed load
    assert junk.read_bytes() == b"not a cache" and "junk.bin: not written" in caplog.text
    assert not may_replace_cache(junk) and may_replace_cache(tmp_path / "absent.bin")


def test_a_stale_cache_of_ours_is_replaced_and_a_users_file_never(tmp_path, caplog):
    f = torch.compile(lambda x: x.cos() * 3)
    f(torch.randn(4))
    path = tmp_path / "cc.bin"
    save_compile_cache(path)
    raw = path.read_bytes()
    assert raw.startswith(MAGIC + torch.__version__.encode() + b"\n") and may_replace_cache(path)
    stale = tmp_path / "stale.bin"  # the same file as another torch wrote it
    stale.write_bytes(MAGIC + b"1.0.0\n" + raw.split(b"\n", 2)[2])
    with caplog.at_level(logging.WARNING, logger="artifygan"):
        assert load_compile_cache(stale) == 0
    assert "written by torch 1.0.0" in caplog.text and may_replace_cache(stale)
    assert save_compile_cache(stale, replace=may_replace_cache(stale)) > 0  # what train does: replaced
    assert stale.read_bytes().startswith(MAGIC + torch.__version__.encode())
    mine = tmp_path / "notes.txt"
    mine.write_bytes(b"artifygan compile cache? no: my notes")
    assert not may_replace_cache(mine) and not may_replace_cache(tmp_path)  # a file of the user's, a folder


def test_train_loads_the_cache_before_its_steps_and_rewrites_it_at_the_end(tiny_data, tmp_path, monkeypatch):
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(torch, "compile", lambda m, **kw: m)  # the wiring, not Inductor (minutes on a CPU)
    monkeypatch.setattr(loop_mod, "load_compile_cache", lambda p: calls.append(("load", str(p))) or 0)
    monkeypatch.setattr(loop_mod, "save_compile_cache",
                        lambda p, replace=True: calls.append(("save" if replace else "keep", str(p))) or 1)
    cache = tmp_path / "cc.bin"
    run_root = tmp_path / "runs"
    data = [f"data.photos={tiny_data / 'photos'}", f"data.cartoons={tiny_data / 'cartoons'}"]
    rc = main(["train", *data, *TINY_OVERRIDES, "train.compile=true", "train.init_steps=1",
               "train.adv_steps=1", "--run-root", str(run_root), "--compile-cache", str(cache), "--no-progress"])
    assert rc == 0
    assert calls == [("load", str(cache)), ("save", str(cache))]  # none there yet: written
    calls.clear()
    cache.write_bytes(b"the user's own file")  # there, and not loaded as a cache (load gives 0): kept
    assert main(["train", *data, *TINY_OVERRIDES, "train.compile=true", "train.init_steps=1", "train.adv_steps=1",
                 "--run-root", str(run_root), "--compile-cache", str(cache), "--no-progress"]) == 0
    assert calls == [("load", str(cache)), ("keep", str(cache))]


def test_the_cache_is_ignored_with_a_warning_when_nothing_compiles(tiny_data, tmp_path, caplog):
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=0")
    cache = tmp_path / "cc.bin"
    with caplog.at_level(logging.WARNING, logger="artifygan"):
        run_dir = loop_mod.train(cfg, run_root=tmp_path / "runs", progress=False, compile_cache=cache)
    assert "ignored: train.compile is off" in caplog.text
    assert "ignored: train.compile is off" in (run_dir / "log.txt").read_text()  # the run's own log has it
    assert not cache.exists()

