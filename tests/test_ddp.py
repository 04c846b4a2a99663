"""Multi-process training through torchrun: 2 CPU processes on gloo, rank 0 alone writes."""

import json
import os
import subprocess
import sys

import pytest
import torch

from artifygan.training.checkpoint import load_state

from .conftest import REPO, TINY_OVERRIDES


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tiny_data, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "artifygan", "train", f"data.photos={tiny_data / 'photos'}",
           f"data.cartoons={tiny_data / 'cartoons'}", *TINY_OVERRIDES, "train.init_steps=1",
           "train.adv_steps=2", "loss.equivariance=1.0",  # two G forwards before one backward under DDP
           "--run-root", str(tmp_path / "runs"), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, "only rank 0 may create the run folder"
    run = runs[0]
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3], "one stats row per step, written once (rank 0)"
    assert all(r["loss_g_equivariance"] > 0 for r in rows)
    state = load_state(run / "training_state.pt")
    assert state["step"] == 3
    # 8 images / (2 ranks × batch 2) = 2 steps per epoch: step 3 is in the second epoch
    assert rows[-1]["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in state["G"].values())


@pytest.mark.slow
def test_ranks_stop_together_on_the_time_limit_at_a_log_step(tiny_data, tmp_path):
    """The time limit is agreed across ranks (a collective) at log steps only, not at every step."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "artifygan", "train", f"data.photos={tiny_data / 'photos'}",
           f"data.cartoons={tiny_data / 'cartoons'}", *TINY_OVERRIDES, "train.init_steps=1",
           "train.adv_steps=20", "train.log_every=2", "--time-limit", "0", "--run-root", str(tmp_path / "runs"),
           "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = list((tmp_path / "runs").iterdir())
    assert load_state(run / "training_state.pt")["step"] == 2  # over the limit at once, stopped at the first log step
