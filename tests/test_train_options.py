"""The GPU-path fixes that can be checked on a CPU: resume onto any device, options, clean failures."""

import json
import logging
import signal

import numpy as np
import pytest
import torch

from artifygan.cli import main
from artifygan.config import load_config
from artifygan.data.dataset import EpochStream
from artifygan.data.smoothing import edge_smooth, edge_smooth_batch
from artifygan.demo import synthetic_cartoon
from artifygan.training import loop as loop_mod
from artifygan.training.checkpoint import load_state, rng_state, set_rng_state
from artifygan.training.loop import train

from .conftest import tiny_config


def test_resume_loads_the_state_on_the_cpu_whatever_the_device(tiny_data, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=2")
    run = train(cfg, run_root=tmp_path, stop_at_step=1, progress=False)
    seen = []

    def spy(path, map_location="cpu"):
        seen.append(str(map_location))
        return load_state(path, map_location)

    monkeypatch.setattr(loop_mod, "load_state", spy)
    train(cfg, run_root=tmp_path, resume=run, progress=False)
    assert seen == ["cpu"]  # on CUDA, map_location=cuda moved the RNG state to the GPU and crashed


def test_rng_state_restores_from_any_dtype_copy():
    state = rng_state()
    expected = torch.rand(3)
    moved = {"torch": state["torch"].to(torch.int64)}  # what a careless map_location/cast leaves behind
    set_rng_state(moved)
    assert torch.equal(torch.rand(3), expected)


def test_optimizers_are_fused_on_cuda_only():
    from artifygan.device import adam

    p = [torch.nn.Parameter(torch.zeros(3))]
    assert adam(p, 1e-3, (0.5, 0.9), torch.device("cuda")).defaults["fused"] is True  # one launch per step
    cpu = adam(p, 1e-3, (0.5, 0.9), torch.device("cpu"))
    assert not cpu.defaults["fused"] and cpu.defaults["betas"] == (0.5, 0.9) and cpu.defaults["lr"] == 1e-3


def test_cudnn_benchmark_is_set_for_cuda_runs_only(monkeypatch):
    from artifygan.training.setup import configure_backends

    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    configure_backends(True, torch.device("cpu"))
    assert torch.backends.cudnn.benchmark is False  # a CPU run leaves the process's settings alone
    configure_backends(True, torch.device("cuda"))
    assert torch.backends.cudnn.benchmark is True
    configure_backends(False, torch.device("cuda"))  # train.cudnn_benchmark=false
    assert torch.backends.cudnn.benchmark is False


def test_grad_accumulation_matches_the_large_batch(tiny_data, tmp_path):
    # per-sample norms (layer norm in G, instance norm in D): 2 micro-batches of 1 ≈ one batch of 2.
    # Adam's first steps are near sign(grad), so float noise shows; compare against plain batch 1.
    common = ("train.init_steps=2", "train.adv_steps=2", "train.checkpoint_every=100")

    def final(name, *extra):
        run = train(tiny_config(tiny_data, *common, *extra), run_root=tmp_path / name, progress=False)
        return load_state(run / "training_state.pt")

    big, acc = final("a"), final("b", "train.batch_size=1", "train.grad_accum=2")
    small = final("c", "train.batch_size=1")

    def dist(x, y):  # mean, not max: a few near-zero gradients may flip sign through float noise
        diffs = torch.cat([(x[k][n] - y[k][n]).abs().flatten() for k in ("G", "D") for n in x[k]])
        return diffs.mean().item()

    assert dist(big, acc) < 0.1 * dist(big, small)
    assert acc["step"] == big["step"] == 4

def test_epoch_stream_is_endless_sharded_and_resumable():
    s = EpochStream(5, rank=0, world=2, seed=3)
    it = iter(s)
    first = [next(it) for _ in range(9)]  # 3 per rank per epoch → three epochs
    assert [e for e, _ in first] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    other = EpochStream(5, rank=1, world=2, seed=3)
    epoch0 = {i for _, i in first[:3]} | set(other.epoch_indices(0))
    assert epoch0 == set(range(5))  # the two ranks cover the epoch
    resumed = iter(EpochStream(5, rank=0, world=2, seed=3, start=4))
    assert [next(resumed) for _ in range(5)] == first[4:]
    one, two = EpochStream(50, seed=1), EpochStream(50, seed=2)
    assert one.epoch_indices(1) != two.epoch_indices(0)  # seeds are not epochs shifted by one
    assert sorted(EpochStream(50, seed=10**13).epoch_indices(3)) == list(range(50))  # no seed overflow


def test_device_smoothing_matches_the_loader_smoothing():
    rng = np.random.default_rng(0)
    ims = [np.asarray(synthetic_cartoon(rng, 64)) for _ in range(3)]
    batch = torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).contiguous()
    out = edge_smooth_batch(batch)
    assert out.dtype == torch.uint8 and out.shape == batch.shape
    for im, o in zip(ims, out.permute(0, 2, 3, 1).numpy(), strict=True):
        ref = edge_smooth(im)
        changed_ref, changed = np.any(ref != im, -1), np.any(o != im, -1)
        assert changed_ref.any()
        iou = (changed_ref & changed).sum() / (changed_ref | changed).sum()
        assert iou > 0.6
        assert np.abs(ref.astype(int) - o.astype(int)).mean() < 2.0
    with pytest.raises(ValueError, match="uint8"):
        edge_smooth_batch(batch.float())


def test_device_smoothing_runs_in_the_loop(tiny_data, tmp_path):
    run = train(tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1", "data.smoothing=device"),
                run_root=tmp_path, progress=False)
    assert "smoothing on device" in (run / "log.txt").read_text()


@pytest.mark.parametrize(("override", "message"), [
    ("train.batch_size=0", "train.batch_size=0"),
    ("train.grad_accum=0", "train.grad_accum=0"),
    ("data.size=8", "data.size=8"),
    ("train.precision=fp8", "fp8"),
    ("data.size=50", "multiple of the generator's stride"),
    ("data.resize=16", "data.resize=16: must be at least data.size"),
    ("loss.structure_cell=1", "loss.structure_cell=1: must be at least 2"),
    ("loss.equivariance=-1", "loss.equivariance=-1.0: must be 0 or more"),
    ("model.teacher_tta=x3", "model.teacher_tta='x3': must be one of off, x2, x4"),
    ("model.teacher_tta=x2", "model.teacher_tta: needs model.teacher"),
    ("loss.gan=banana", "loss.gan='banana': must be one of bce, lsgan, hinge"),  # it hung after the message
    ("loss.content=nan", "loss.content=nan: must be a finite number, 0 or more"),  # trained at 0, silently
    ("loss.content=-5", "loss.content=-5.0: must be a finite number, 0 or more"),
    ("loss.content_from={2: -1}", r"loss.content_from\[2\]=-1.0: must be a finite number"),
])
def test_bad_values_fail_before_any_run_folder(tiny_data, tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        train(tiny_config(tiny_data, override), run_root=tmp_path, progress=False)
    assert not tmp_path.exists() or not list(tmp_path.iterdir())  # no empty numbered folder


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a CPU-only torch")
def test_cuda_on_a_cpu_build_is_one_clear_line(tiny_data, tmp_path, capsys):
    rc = main(["train", f"data.photos={tiny_data / 'photos'}", f"data.cartoons={tiny_data / 'cartoons'}",
               "train.device=cuda", "--run-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "device 'cuda'" in err and "Traceback" not in err
    assert not list(tmp_path.glob("0*"))


@pytest.mark.parametrize("opts, said", [
    (["--name", "../x"], "--name '../x': a run folder's name, without /"),
    (["--run-root", "{file}"], "cannot hold run folders: {file} is a file"),
    (["--run-root", "{file}/sub"], "cannot hold run folders: {file} is a file"),
])
def test_bad_run_name_or_root_is_one_line_before_any_data_loads(tmp_path, capsys, opts, said):
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    opts = [o.format(file=file) for o in opts]
    rc = main(["train", "--run-root", str(tmp_path / "runs"), *opts, "data.photos=/no/such/photos"])
    err = capsys.readouterr().err
    assert rc == 2 and said.format(file=file) in err and "/no/such/photos" not in err  # the data was never read
    assert file.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_malformed_yaml_names_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  photos: [a, b\n  size: 3\n")
    with pytest.raises(ValueError, match=r"bad.yaml: not valid YAML \(line"):
        load_config(bad)
    assert main(["train", "-c", str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err


def test_overrides_may_follow_options(tiny_data, tmp_path, capsys):
    rc = main(["train", "--name", "x", "--run-root", str(tmp_path), f"data.photos={tiny_data / 'photos'}",
               "--no-progress", "train.batch_size=0"])
    assert rc == 2 and "train.batch_size=0" in capsys.readouterr().err  # the override reached the config
    with pytest.raises(SystemExit):
        main(["train", "--bogus-flag"])


def test_a_crash_mid_run_restores_signal_handlers_and_log_handlers(tiny_data, tmp_path, monkeypatch):
    before = signal.getsignal(signal.SIGTERM)
    n_handlers = len(logging.getLogger("artifygan").handlers)

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(loop_mod, "generator_loss", boom)
    with pytest.raises(RuntimeError, match="boom"):
        train(tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1"), run_root=tmp_path, progress=False)
    assert signal.getsignal(signal.SIGTERM) is before
    assert len(logging.getLogger("artifygan").handlers) == n_handlers


def test_fast_generator_learns_from_a_teacher_then_keeps_skin_flat(tiny_data, tiny_snapshot, tmp_path):
    import json

    cfg = tiny_config(tiny_data, "model.generator=fast", "train.init_steps=2", "train.adv_steps=2",
                      f"model.teacher={tiny_snapshot}", "loss.teacher=10", "loss.flat_skin=5")
    run = train(cfg, run_root=tmp_path, progress=False)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    init, adv = rows[0], rows[-1]
    assert init["loss_g_teacher"] > 0 and "loss_g_flat_skin" not in init
    assert adv["loss_g_flat_skin"] > 0 and "loss_g_teacher" not in adv  # distillation only initialises
    snap = json.loads((run / "snapshots" / "step_0000004" / "config.json").read_text())
    assert snap["generator"] == "fast"
    with pytest.raises(ValueError, match="loss.teacher_adv are 0"):
        train(tiny_config(tiny_data, f"model.teacher={tiny_snapshot}"), run_root=tmp_path / "x", progress=False)


def test_teacher_anchor_in_the_adversarial_phase_learns_the_cleaned_teacher(tiny_data, tiny_snapshot, tmp_path,
                                                                            monkeypatch):
    import json
    import shutil

    from artifygan.cartoon_losses import StrokeCleanup

    teacher = tmp_path / "teacher"
    shutil.copytree(tiny_snapshot, teacher)
    meta = json.loads((teacher / "config.json").read_text())
    meta["postprocess"] = {"clean_strokes": {"k": 3}}
    (teacher / "config.json").write_text(json.dumps(meta))
    seen = []
    real = loop_mod.clean_strokes

    def spy(out, photo, cfg):
        seen.append(cfg)
        return real(out, photo, cfg)

    monkeypatch.setattr(loop_mod, "clean_strokes", spy)
    cfg = tiny_config(tiny_data, "model.generator=fast", "train.init_steps=1", "train.adv_steps=2",
                      f"model.teacher={teacher}", "loss.teacher=0", "loss.teacher_adv=3")
    run = train(cfg, run_root=tmp_path / "runs", progress=False)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert "loss_g_teacher" not in rows[0]  # init weight 0: no distillation there
    assert all(r["loss_g_teacher"] > 0 for r in rows if r["phase"] == "adversarial")
    assert seen == [StrokeCleanup(k=3)] * 2  # the teacher's recorded postprocess, once per adversarial step


def test_snapshots_record_the_preprocessing_and_face_mode_uses_it(tiny_data, tmp_path):
    import json
    import shutil

    from artifygan import Cartoonizer, WildCartoonizer
    from artifygan.faces import FaceFraming

    prepared = tmp_path / "prepared"  # the layout `artifygan prepare` writes, with a wider face margin
    shutil.copytree(tiny_data / "photos", prepared / "train" / "photos")
    (prepared / "summary.json").write_text(json.dumps({"options": {"margin": 0.4}}))
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1",
                      f"data.photos={prepared / 'train' / 'photos'}")
    run = train(cfg, run_root=tmp_path / "runs", progress=False)
    meta = json.loads((run / "snapshots" / "step_0000002" / "config.json").read_text())
    assert meta["preprocess"]["train_size"] == 32
    assert meta["preprocess"]["face_framing"]["eye_dist"] == pytest.approx(0.28 / 1.4)
    wild = WildCartoonizer(Cartoonizer.from_pretrained(run, device="cpu", backend="torch"))
    assert wild.framing == FaceFraming.with_margin(0.4) != FaceFraming()


def test_any_os_error_is_one_line_not_a_traceback(tiny_data, tmp_path, monkeypatch, capsys):
    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", "/srv/runs")

    monkeypatch.setattr(loop_mod, "train", denied)
    rc = main(["train", f"data.photos={tiny_data / 'photos'}", f"data.cartoons={tiny_data / 'cartoons'}"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "Permission denied" in err and "Traceback" not in err


def test_model_init_starts_from_the_snapshot_weights_and_refuses_another_generator(tiny_data, tiny_snapshot,
                                                                                   tmp_path):
    from safetensors.torch import load_file

    from artifygan.models import load_generator

    cfg = tiny_config(tiny_data, f"model.init={tiny_snapshot}",
                      "train.init_steps=0", "train.adv_steps=1", "train.lr_g=1e-12", "train.ema_decay=0")
    run = train(cfg, run_root=tmp_path / "runs", progress=False)
    start, _ = load_generator(tiny_snapshot)
    after = load_file(str(run / "snapshots" / "step_0000001" / "model.safetensors"))
    for name, w in start.state_dict().items():  # lr ~0: one step leaves the warm-started weights in place
        assert torch.allclose(after[name], w, atol=1e-6), name
    fresh = train(tiny_config(tiny_data, "train.seed=1", "train.init_steps=0",
                              "train.adv_steps=1", "train.lr_g=1e-12", "train.ema_decay=0"),
                  run_root=tmp_path / "fresh", progress=False)
    other = load_file(str(fresh / "snapshots" / "step_0000001" / "model.safetensors"))
    assert any(not torch.allclose(other[n], w, atol=1e-3) for n, w in start.state_dict().items())
    with pytest.raises(ValueError, match="model.init=.*holds generator 'light'"):
        train(tiny_config(tiny_data, f"model.init={tiny_snapshot}", "model.generator_args.ch=16"),
              run_root=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()  # refused before any run folder
    # a run folder (its newest snapshot), as translate -m takes it: it was "RUN/config.json: missing"
    again = train(tiny_config(tiny_data, f"model.init={run}", "train.init_steps=0", "train.adv_steps=1"),
                  run_root=tmp_path / "again", progress=False)
    assert (again / "snapshots" / "step_0000001" / "model.safetensors").is_file()


def test_content_weight_follows_its_schedule(tiny_data, tmp_path):
    """loss.content_from switches the content weight at a step (the default's 2.0 → 1.0 at 2500), so the
    recipe is one config, not a resume with an override."""
    cfg = load_config(None, ["loss.content=2.0", "loss.content_from={3: 0.0, 1: 1.0}"])
    assert [cfg.loss.content_at(s) for s in (0, 1, 2, 3, 10)] == [2.0, 1.0, 1.0, 0.0, 0.0]
    assert load_config(None, ['loss.content_from={"5": 0.5}']).loss.content_at(5) == 0.5  # keys read from JSON
    with pytest.raises(ValueError, match="content_from"):
        train(tiny_config(tiny_data, "loss.content_from={-1: 1.0}"), run_root=tmp_path, progress=False)
    run = train(tiny_config(tiny_data, "train.init_steps=2", "train.adv_steps=2", "train.log_every=1",
                            "loss.content=1.0", "loss.content_from={2: 0.0}"), run_root=tmp_path, progress=False)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    content = {r["step"]: r["loss_g_content"] for r in rows}
    assert content[1] > 0 and content[2] > 0  # steps 0 and 1 (logged after the step) use 1.0
    assert content[3] == 0 and content[4] == 0


def test_resize_crops_part_of_the_picture_at_the_scale_of_use(tiny_data, tmp_path):
    """data.resize: a 16² crop of a picture resized to 40 shows ~2/5 of it, not all of it, unscaled."""
    from PIL import Image

    from artifygan.data.dataset import UnpairedImages

    # one photo: a horizontal ramp, so a crop's pixel range tells how much of the picture it spans
    photos = tmp_path / "ramp"
    photos.mkdir()
    ramp = np.tile(np.linspace(0, 255, 40).astype(np.uint8)[None, :, None], (40, 1, 3))
    Image.fromarray(ramp).save(photos / "r.png")
    args = ([str(photos)], [str(tiny_data / "cartoons")])
    whole = UnpairedImages(*args, size=16, hflip=False)
    part = UnpairedImages(*args, size=16, hflip=False, resize=40)
    span_whole = [float(np.ptp(whole[(0, i)]["photo"][0].numpy().astype(int))) for i in range(4)]
    span_part = [float(np.ptp(part[(0, i)]["photo"][0].numpy().astype(int))) for i in range(4)]
    assert min(span_whole) > 200  # nearly the whole ramp in every crop
    assert max(span_part) < 130  # 16 of ~40-45 columns: well under half of it
    with pytest.raises(ValueError, match="smaller than the crop size"):
        UnpairedImages(*args, size=16, resize=8)
    assert UnpairedImages(*args, size=16, seed=10**6)[(3, 0)]["photo"].shape[-1] == 16  # its seed overflowed
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1", "data.resize=48")
    run = train(cfg, run_root=tmp_path / "runs", progress=False)
    meta = json.loads((run / "snapshots" / "step_0000002" / "config.json").read_text())
    assert meta["preprocess"]["train_size"] == 32 and meta["preprocess"]["train_scale"] == 48


def test_a_student_of_the_teachers_ensemble_learns_the_ensembles_output(tiny_data, tiny_snapshot, tmp_path):
    """model.teacher_tta: the teacher's output is its test-time ensemble. A student that starts as the
    teacher owes nothing to the plain teacher at step 0, and owes the ensemble's difference to x2 and x4."""
    args = ("train.init_steps=1", "train.adv_steps=0", "loss.content=0", "loss.teacher=1",
            "model.generator_args={\"ch\": 8, \"n_blocks\": 1}", f"model.init={tiny_snapshot}",
            f"model.teacher={tiny_snapshot}")
    owed = {}
    for mode in ("off", "x2", "x4"):
        run = train(tiny_config(tiny_data, *args, f"model.teacher_tta={mode}"), run_root=tmp_path / mode,
                    progress=False)
        row = json.loads((run / "stats.jsonl").read_text().splitlines()[0])
        assert row["loss_g_content"] == 0.0  # weight 0: the content network is not run
        owed[mode] = row["loss_g_teacher"]
    assert owed["off"] == pytest.approx(0.0, abs=1e-7)
    assert owed["x2"] > 1e-4 and owed["x4"] > 1e-4


def test_loader_workers_are_at_most_the_cores(monkeypatch):
    import os

    from artifygan.training.setup import ignore_stop_signals, loader_options

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    kw = loader_options(4, torch.device("cpu"))  # configs/default.yaml asks 4: torch warned on 2 cores
    assert kw["num_workers"] == 2 and kw["worker_init_fn"] is ignore_stop_signals and not kw["pin_memory"]
    assert loader_options(0, torch.device("cpu")) == {"num_workers": 0, "pin_memory": False}


def test_resume_of_a_run_whose_config_is_not_yaml_and_bad_stop_flags_are_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(": : :\n")
    (run / "training_state.pt").write_bytes(b"")
    assert main(["train", "--resume", str(run)]) == 2  # it was a yaml.parser.ParserError traceback
    assert "config.yaml: not valid YAML (line 1, column 1)" in capsys.readouterr().err
    for flag, value in (("--stop-at-step", "-5"), ("--time-limit", "-1"), ("--time-limit", "nan")):
        with pytest.raises(SystemExit):  # they stopped at step 1 / were ignored
            main(["train", flag, value])
        assert f"argument {flag}: {value} is out of range" in capsys.readouterr().err
