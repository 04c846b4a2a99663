"""What a run records and how a resume continues it: stats averaged over the steps each loss exists,
no rows twice after a resume from an older state, the last steps of a stopped run logged, no step past
--stop-at-step, and a resume's new optimizer settings used (a code review found each one wrong)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from artifygan.config import load_config
from artifygan.losses import gram
from artifygan.training.checkpoint import load_state
from artifygan.training.loop import load_run_config, train

from .conftest import REPO, TINY_OVERRIDES, tiny_config


def rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def test_each_loss_is_averaged_over_the_steps_it_exists(tiny_data, tmp_path):
    """A window across the init → adversarial switch halved loss_d: it was divided by every step."""
    cfg = {le: tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1", f"train.log_every={le}",
                           "train.seed=3") for le in (1, 2)}
    one = rows(train(cfg[1], run_root=tmp_path / "a", progress=False))
    two = rows(train(cfg[2], run_root=tmp_path / "b", progress=False))
    assert [r["step"] for r in one] == [1, 2] and [r["step"] for r in two] == [2]
    assert "loss_d" not in one[0] and one[1]["loss_d"] > 0
    assert two[0]["loss_d"] == pytest.approx(one[1]["loss_d"], rel=1e-5)  # only step 2 had one
    assert two[0]["loss_g_adv"] == pytest.approx(one[1]["loss_g_adv"], rel=1e-5)
    assert two[0]["loss_g"] == pytest.approx((one[0]["loss_g"] + one[1]["loss_g"]) / 2, rel=1e-5)


def test_a_resume_from_an_older_state_logs_no_step_twice(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=3", "train.checkpoint_every=100")
    run = train(cfg, run_root=tmp_path, stop_at_step=2, progress=False)
    older = (run / "training_state.pt").read_bytes()
    train(cfg, resume=run, stop_at_step=4, progress=False)
    (run / "training_state.pt").write_bytes(older)  # killed after step 4, its last state from step 2
    train(cfg, resume=run, progress=False)
    assert [r["step"] for r in rows(run)] == [1, 2, 3, 4]  # it was [1, 2, 3, 4, 3, 4]


def test_a_stopped_run_logs_its_last_steps_and_never_passes_the_stop(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=5", "train.checkpoint_every=100",
                      "train.log_every=10")
    run = train(cfg, run_root=tmp_path, stop_at_step=3, progress=False)
    assert [r["step"] for r in rows(run)] == [3]  # stopped between log steps: no stats.jsonl at all
    train(cfg, resume=run, stop_at_step=3, progress=False)
    assert load_state(run / "training_state.pt")["step"] == 3  # it trained one more step, to 4
    train(cfg, resume=run, stop_at_step=4, progress=False)
    assert [r["step"] for r in rows(run)] == [3, 4]


def test_a_resume_trains_with_its_new_discriminator_lr_and_betas(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=2", "train.checkpoint_every=100")
    run = train(cfg, run_root=tmp_path, stop_at_step=2, progress=False)
    changed = load_run_config(run, ["train.lr_d=1e-6", "train.betas=[0.0,0.99]"])
    train(changed, resume=run, progress=False)
    state = load_state(run / "training_state.pt")
    for opt in ("opt_d", "opt_g"):
        group = state[opt]["param_groups"][0]
        assert tuple(group["betas"]) == (0.0, 0.99)  # the saved state's (0.5, 0.999) came back
    assert state["opt_d"]["param_groups"][0]["lr"] == 1e-6
    log = (run / "log.txt").read_text()  # config.yaml keeps only the new values: the log says from when
    assert "resumed" in log and "train.lr_d: 0.0002 → 1e-06" in log and "train.betas: [0.5, 0.999] → [0.0, 0.99]" in log


def test_a_content_from_override_replaces_the_yaml_entry(tmp_path):
    """YAML's key 2500 is an int, an override's a string: both stayed, and the larger value won."""
    path = tmp_path / "c.yaml"
    path.write_text("loss:\n  content_from:\n    2500: 1.0\n")
    for value in (0.5, 3.0):
        cfg = load_config(path, [f"loss.content_from.2500={value}"])
        assert cfg.loss.content_from == {2500: value}
        assert cfg.loss.content_at(3000) == value
    with pytest.raises(ValueError, match="content_from"):
        load_config(path, ["loss.content_from.later=1.0"])


def test_the_gram_matrix_stays_fp32_under_autocast():
    torch.manual_seed(0)
    feat = torch.randn(2, 16, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram(feat.to(torch.bfloat16))
    assert g.dtype == torch.float32  # it came back bf16, with a relative error of ~3e-3
    assert torch.allclose(g, gram(feat.to(torch.bfloat16).float()), rtol=1e-6, atol=0)


def _rank_one(parent: int) -> int | None:
    for child in subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True,
                                text=True).stdout.split():
        try:
            env = open(f"/proc/{child}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"RANK=1" in env:
            return int(child)
    return None


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the rank's process through /proc")
def test_a_stop_signal_to_one_rank_stops_both_with_their_state(tiny_data, tmp_path):
    """Rank 1 alone stopped; rank 0 waited in the next gradient all-reduce for good, and no state was saved."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "artifygan", "train", f"data.photos={tiny_data / 'photos'}",
           f"data.cartoons={tiny_data / 'cartoons'}", *TINY_OVERRIDES, "train.init_steps=1",
           "train.adv_steps=100000", "train.log_every=2", "--run-root", str(tmp_path / "runs"), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stats = list((tmp_path / "runs").glob("*/stats.jsonl"))
            if stats and len(stats[0].read_text().splitlines()) >= 2:
                break
            time.sleep(0.5)
        rank1 = _rank_one(proc.pid)
        assert stats and rank1 is not None, "the run did not start"
        os.kill(rank1, signal.SIGTERM)
        proc.wait(timeout=60)  # it hung here
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    (run,) = list((tmp_path / "runs").iterdir())
    step = load_state(run / "training_state.pt")["step"]
    assert step % 2 == 0 and step == rows(run)[-1]["step"]  # stopped together at a log step, state saved


def test_a_resume_with_another_architecture_or_precision_is_one_line(tiny_data, tmp_path):
    """Changed widths were torch's size-mismatch traceback; fp16 after bf16/fp32 raised inside GradScaler."""
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1")
    run = train(cfg, run_root=tmp_path, stop_at_step=1, progress=False)
    wider = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1", "model.generator_args.ch=16")
    with pytest.raises(ValueError, match=r"training_state.pt: its G does not fit this run's settings \(.*size"):
        train(wider, resume=run, progress=False)
    from artifygan.training.checkpoint import restore

    scaler = torch.amp.GradScaler("cpu", enabled=True)
    restore(run / "training_state.pt", {"scaler": {}}, {"scaler": scaler})  # saved disabled: starts fresh
    assert scaler.is_enabled()


def test_settings_that_trained_wrongly_or_crashed_are_one_line_before_any_run(tiny_data, tmp_path):
    """inf learning rates trained on with NaN losses; inf epochs overflowed; a scalar betas was a TypeError;
    true as a batch size trained at 1; 2 as a flag meant on; no steps at all left an empty run folder."""
    for extra, message in (("train.lr_g=inf", "must be positive and finite"),
                           ("train.epochs=inf", "must be finite"),
                           ("train.betas=0.5", "train.betas: expected 2 values"),
                           ("train.batch_size=true", "train.batch_size: expected int"),
                           ("train.compile=2", "train.compile: expected a boolean")):
        with pytest.raises(ValueError, match=message):
            train(tiny_config(tiny_data, extra), run_root=tmp_path / "r", progress=False)
    with pytest.raises(ValueError, match="this run has no steps"):
        train(tiny_config(tiny_data, "train.epochs=0", "train.init_epochs=0"), run_root=tmp_path / "r",
              progress=False)
    assert not (tmp_path / "r").exists()


def test_model_arguments_of_the_wrong_kind_or_size_are_one_line_before_any_run(tiny_data, tmp_path):
    """ch=8.0, ch=abc, n_blocks=1.5, ch=-4 were tracebacks from torch; base_ch=0 failed at the first step
    after the run folder was made; spectral_norm=maybe was taken as on."""
    for extra, message in (("model.generator_args.ch=8.0", "ch=8.0: expected a whole number"),
                           ("model.generator_args.ch=abc", "ch='abc': expected a whole number"),
                           ("model.generator_args.n_blocks=1.5", "n_blocks=1.5: expected a whole number"),
                           ("model.generator_args.ch=-4", "ch=-4: must be 0 or more"),
                           ("model.generator_args.down_pad=edge", "down_pad='edge': expected one of"),
                           ("model.discriminator_args.spectral_norm=maybe", "spectral_norm='maybe': expected true"),
                           ("model.discriminator_args.base_ch=0", "model.discriminator_args")):
        with pytest.raises(ValueError, match=message):
            train(tiny_config(tiny_data, extra), run_root=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_a_stop_signal_while_the_run_starts_leaves_a_run_that_resumes(tiny_data, tmp_path, monkeypatch):
    """A Ctrl-C while the sample photos were decoded or the loader workers started (before the stop handler)
    left a run folder with only its config and log: --resume found no state."""
    import artifygan.training.loop as loop

    real = loop.EpochStream

    def interrupted(*args, **kwargs):  # the moment the run folder exists and the workers are about to start
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "EpochStream", interrupted)
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=3")
    run = train(cfg, run_root=tmp_path, progress=False)
    assert load_state(run / "training_state.pt")["step"] == 1  # stopped after its first step, resumable
    monkeypatch.setattr(loop, "EpochStream", real)
    train(cfg, resume=run, progress=False)
    assert load_state(run / "training_state.pt")["step"] == 4
