"""ONNX export parity, the onnxruntime backend of the Cartoonizer, and `artifygan bench`."""

import shutil

import numpy as np
import pytest
import torch
from torch import nn

from artifygan import Cartoonizer
from artifygan.bench import format_rows, run_bench, speed_ratio
from artifygan.cli import main
from artifygan.export import export_onnx, parity
from artifygan.models import GENERATORS, save_generator

from .conftest import random_rgb

pytest.importorskip("onnxruntime")


@pytest.fixture()
def snapshot(tmp_path):
    torch.manual_seed(0)
    return save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "snap")


def test_export_parity_dynamic_shapes(tmp_path):
    torch.manual_seed(0)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 2})
    path = export_onnx(g, tmp_path / "g.onnx", example_size=64)
    assert parity(g, path, shapes=((1, 64, 64), (3, 48, 80))) < 1e-4
    import onnx

    model = onnx.load(str(path))
    assert model.opset_import[0].version >= 17
    dims = [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "batch" and dims[2] == "height" and dims[3] == "width"


def test_norms_export_exactly_at_large_sizes_and_the_callers_model_is_untouched(tmp_path):
    """ONNX's InstanceNormalization (what GroupNorm(1) and InstanceNorm2d become) drifted with the pixel
    count in onnxruntime: a bare GroupNorm was 2.4 off at 1024² on offset inputs; staged means are exact."""
    from artifygan.export import ort_session

    for norm in (nn.GroupNorm(1, 4), nn.InstanceNorm2d(4, affine=True)):
        with torch.no_grad():
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.uniform_(-1.0, 1.0)
        model = nn.Sequential(nn.Conv2d(3, 4, 1), norm).to(torch.bfloat16).train()
        path = export_onnx(model, tmp_path / "n.onnx", example_size=32)
        assert model.training and next(model.parameters()).dtype == torch.bfloat16  # not changed in place
        assert isinstance(model[1], type(norm))
        x = torch.rand(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(0)) * 0.2 + 5.0  # offset
        ref = model.float().eval()(x).detach().numpy()
        out = ort_session(path).run(None, {"image": x.numpy()})[0]
        assert np.abs(out - ref).max() < 1e-3


def test_the_onnx_cache_is_keyed_by_the_graph_not_only_the_weights(snapshot, tmp_path, monkeypatch):
    """Two snapshots with one weights file and another activation ran the first one's cached graph."""
    import json

    from artifygan.export import cached_onnx_path

    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "cache"))
    other = tmp_path / "other"
    shutil.copytree(snapshot, other)
    (other / "model.onnx").unlink(missing_ok=True)
    meta = json.loads((other / "config.json").read_text())
    meta["generator_args"]["act"] = "relu" if meta["generator_args"].get("act") != "relu" else "lrelu"
    (other / "config.json").write_text(json.dumps(meta))
    assert cached_onnx_path(other) != cached_onnx_path(snapshot)
    assert cached_onnx_path(snapshot, opset=18) != cached_onnx_path(snapshot)
    img = random_rgb(40, 32)
    a = np.asarray(Cartoonizer.from_pretrained(other, device="cpu", backend="onnx")(img), np.int16)
    b = np.asarray(Cartoonizer.from_pretrained(other, device="cpu", backend="torch")(img), np.int16)
    assert np.abs(a - b).max() <= 1


def test_cli_export_then_translate_uses_onnx(snapshot, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "cache"))
    assert main(["export", "-m", str(snapshot)]) == 0
    assert "max |torch - onnxruntime|" in capsys.readouterr().out
    assert (snapshot / "model.onnx").is_file()
    onnx_cz = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="onnx")  # the model.onnx just written
    assert not (tmp_path / "cache").exists()  # nothing exported again: the snapshot's file was used
    torch_cz = Cartoonizer.from_pretrained(snapshot, device="cpu")  # auto → torch, the faster here
    assert onnx_cz.backend == "onnx" and torch_cz.backend == "torch"
    img = random_rgb(50, 30)
    a, b = np.asarray(onnx_cz(img), np.int16), np.asarray(torch_cz(img), np.int16)
    assert a.shape == (30, 50, 3) and np.abs(a - b).max() <= 1


def test_a_model_onnx_from_an_older_exporter_is_passed_over_for_a_fresh_export(snapshot, tmp_path, monkeypatch):
    """Files exported before the staged norms drift at photo sizes; only the on-demand cache was keyed by
    the exporter's version, so a snapshot's own old model.onnx kept drifting."""
    import onnx

    from artifygan.export import EXPORT_VERSION, VERSION_KEY, export_version

    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "cache"))
    assert main(["export", "-m", str(snapshot)]) == 0
    own = snapshot / "model.onnx"
    assert export_version(own) == EXPORT_VERSION
    proto = onnx.load(str(own))
    del proto.metadata_props[:]  # as every file written before the version was recorded
    own.write_bytes(proto.SerializeToString())
    assert export_version(own) == 1 and export_version(tmp_path / "none.onnx") == 1
    with pytest.warns(UserWarning, match=r"model.onnx: written by an older exporter.*--overwrite"):
        cz = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="onnx")
    assert cz.backend == "onnx" and len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1
    assert own.read_bytes() == proto.SerializeToString()  # the user's file is never rewritten unasked
    assert {p.key for p in onnx.load(str(next((tmp_path / "cache" / "onnx").glob("*.onnx")))).metadata_props} \
        == {VERSION_KEY}


def test_onnx_backend_on_request_exports_to_cache(snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "cache"))
    cz = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="onnx")
    assert cz.backend == "onnx" and list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    with pytest.raises(ValueError, match="unknown backend"):
        Cartoonizer.from_pretrained(snapshot, backend="tensorrt")


def test_bench_rows_and_speed_ratio():
    rows = run_bench(("light", "cartoongan"), sizes=(32,), batches=(1, 2), seconds=0.05, backends=("torch", "onnx"))
    assert {(r.model, r.backend) for r in rows} == {(m, b) for m in ("light", "cartoongan") for b in ("torch", "onnx")}
    assert all(r.throughput > 0 and r.latency_ms > 0 and r.best_batch in (1, 2) for r in rows)
    by = {(r.model, r.backend): r for r in rows}
    ratio = speed_ratio(rows, "light", "cartoongan", "torch", 32)
    assert ratio == pytest.approx(by[("light", "torch")].throughput / by[("cartoongan", "torch")].throughput)
    text = format_rows(rows)
    assert "| light | onnx | 32² |" in text
    assert f"torch 32²: light is {ratio:.1f}× faster than cartoongan" in text  # the printed figure is that ratio


def test_bench_runs_onnxruntime_on_the_threads_it_says(monkeypatch):
    """The header said --threads N; onnxruntime took its own default (every core) for the onnx rows."""
    import artifygan.bench as bench
    import artifygan.export as export

    seen: list[int | None] = []
    real = export.ort_session
    monkeypatch.setattr(export, "ort_session",
                        lambda path, threads=None: (seen.append(threads), real(path, threads))[1])
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bench.run_bench(("light",), sizes=(32,), batches=(1,), seconds=0.01, backends=("onnx",))
    finally:
        torch.set_num_threads(old)
    assert seen and seen[-1] == 1


def test_bench_train_measures_both_phases_through_the_loop():
    from artifygan.bench_train import bench_train, format_train_rows

    tiny = ("model.generator_args.ch=8", "model.generator_args.n_blocks=1", "model.discriminator_args.base_ch=8",
            "model.content=vgg19", "model.content_args.pretrained=false", "model.content_args.layer=relu2_2")
    row = bench_train("fast", size=32, batch=2, steps=2, warmup=1, device="cpu", overrides=tiny, workers=0)
    assert row.model == "fast" and row.device == "cpu" and row.precision == "fp32"
    assert row.init_img_per_s > 0 and row.adv_img_per_s > 0 and row.peak_mem_gb > 0.01
    assert "| fast | cpu | 32² | 2 |" in format_train_rows([row])
    # overrides that change what is trained: the row names what was trained, not the arguments
    row = bench_train("light", size=32, batch=2, steps=2, warmup=1, device="cpu", workers=0,
                      overrides=(*tiny, "model.generator=fast", "data.size=40", "train.batch_size=3"))
    assert (row.model, row.size, row.batch) == ("fast", 40, 3)


def test_bench_refuses_an_unknown_model_before_measuring_any(capsys, monkeypatch):
    """A typo in a later name threw away the rows already measured (minutes of them)."""
    import artifygan.bench as bench
    from artifygan.cli import main

    monkeypatch.setattr(bench, "run_bench", lambda *a, **k: pytest.fail("measured before the names were checked"))
    assert main(["bench", "--models", "light,banana"]) == 2
    assert "unknown generator 'banana'" in capsys.readouterr().err


def test_bench_train_times_whole_windows_without_per_step_syncs():
    from artifygan.bench_train import _phase_rate, phase_length

    assert phase_length(10, 3) == 20 and phase_length(10, 10) == 20 and phase_length(10, 0) == 10
    assert phase_length(2, 5) == 8  # 3 warm-up windows (6 ≥ 5 steps), then the measured one
    with pytest.raises(ValueError):
        phase_length(0, 1)
    rows = [{"phase": "init", "img_per_s": 5.0}, {"phase": "init", "img_per_s": 7.0},
            {"phase": "adversarial", "img_per_s": 1.0}, {"phase": "adversarial", "img_per_s": 3.0}]
    assert _phase_rate(rows, "init") == 7.0 and _phase_rate(rows, "adversarial") == 3.0  # the last window
    with pytest.raises(ValueError, match="d_warmup"):
        _phase_rate(rows, "d_warmup")


def test_fast_generator_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    g = GENERATORS.build("fast", {"ch": 8, "n_blocks": 2})
    for p in g.parameters():  # open the residual gates so the body is part of what is compared
        if p.numel() == 1:
            p.data.fill_(0.5)
    path = export_onnx(g, tmp_path / "g.onnx", example_size=64)
    assert parity(g, path, shapes=((1, 64, 64), (2, 48, 80))) < 1e-4


def test_cli_export_never_replaces_a_file_unasked_nor_the_models_own(snapshot, capsys, tmp_path):
    mine = tmp_path / "precious.png"
    mine.write_bytes(b"the user's own picture")
    assert main(["export", "-m", str(snapshot), "-o", str(mine)]) == 2
    assert "precious.png: already exists; --overwrite replaces it" in capsys.readouterr().err
    assert mine.read_bytes() == b"the user's own picture"
    weights = (snapshot / "model.safetensors").read_bytes()
    for own in ("model.safetensors", "config.json"):
        assert main(["export", "-m", str(snapshot), "-o", str(snapshot / own), "--overwrite"]) == 2
        assert f"is the model's own {own}" in capsys.readouterr().err
    assert (snapshot / "model.safetensors").read_bytes() == weights
    assert main(["export", "-m", str(snapshot), "-o", str(tmp_path)]) == 2  # a folder: one line, no work
    assert "is a folder" in capsys.readouterr().err
    assert main(["export", "-m", str(snapshot), "-o", str(tmp_path / "models") + "/"]) == 2  # meant as one
    assert "models: is a folder" in capsys.readouterr().err and not (tmp_path / "models").exists()
    assert main(["export", "-m", str(snapshot), "-o", str(mine / "x.onnx")]) == 2
    assert f"cannot write: {mine} is a file, not a folder" in capsys.readouterr().err
    assert main(["export", "-m", str(snapshot), "-o", str(mine), "--overwrite"]) == 0
    assert mine.read_bytes() != b"the user's own picture"  # replaced, as asked
    assert "note:" not in capsys.readouterr().out  # this snapshot records no steps around the network


def test_cli_export_says_which_recorded_steps_the_graph_leaves_out(tmp_path, capsys):
    from artifygan.export import EXPORT_VERSION, export_version
    from artifygan.pretrained import default_model

    assert export_version(default_model() / "model.onnx") == EXPORT_VERSION  # the bundled graph is used as is
    snap = tmp_path / "default"
    shutil.copytree(default_model(), snap)
    (snap / "model.onnx").unlink(missing_ok=True)
    assert main(["export", "-m", str(snap)]) == 0
    out = capsys.readouterr().out
    assert "the ONNX graph is the network only" in out and "preprocess.bilateral" in out and "preprocess.skin" in out


def test_cli_export_refuses_an_opset_it_cannot_export_exactly_in_one_line(snapshot, capsys, tmp_path):
    out = tmp_path / "m.onnx"
    for bad in ("5", "10", "24", "-1", "x"):  # 9 and 10 export, but their upsampling differs from torch's
        with pytest.raises(SystemExit) as exc:
            main(["export", "-m", str(snapshot), "-o", str(out), "--opset", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "argument --opset" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3
    assert not out.exists()
    assert main(["export", "-m", str(snapshot), "-o", str(out), "--opset", "11"]) == 0
    assert out.is_file()
    with pytest.raises(ValueError, match=r"m2.onnx: cannot export at opset 99 \(") as caught:
        export_onnx(torch.nn.Conv2d(3, 3, 1), tmp_path / "m2.onnx", opset=99)
    assert "\n" not in str(caught.value)  # torch's message carries the whole graph


def test_an_onnx_that_is_not_yunet_is_our_one_line_and_no_opencv_log(tmp_path, capfd):
    """Given as the face detector, a generator's graph failed with OpenCV's own [ERROR] line printed first."""
    from artifygan.faces import PhotoFaceDetector

    torch.manual_seed(0)
    path = export_onnx(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), tmp_path / "g.onnx", example_size=64)
    capfd.readouterr()
    with pytest.raises(ValueError, match=r"g.onnx: cannot load YuNet model \("):
        PhotoFaceDetector(path, download=False)
    assert "[ERROR" not in capfd.readouterr().err
    import cv2

    assert cv2.utils.logging.getLogLevel() != cv2.utils.logging.LOG_LEVEL_SILENT  # OpenCV's log is back


def test_a_cache_that_is_a_file_is_one_line_and_a_blank_one_is_unset(tmp_path, monkeypatch):
    """$ARTIFYGAN_CACHE naming a file gave a raw NotADirectoryError at the ONNX export; " " made a folder
    named " " wherever the command ran."""
    from artifygan.hub import cache_dir

    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "file"))
    with pytest.raises(ValueError, match=r"file/onnx: cannot write: .*file is a file, not a folder \(the cache"):
        cache_dir("onnx")
    monkeypatch.setenv("ARTIFYGAN_CACHE", " ")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "artifygan" / "weights"


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--sizes", "0", "each must be at least 32"), ("--sizes", "7", "at least 32 and a multiple of 8"),
    ("--sizes", ",", "each must be"), ("--batches", "0", "each must be at least 1"),
    ("--backends", "banana", "choose among torch, onnx, cuda"), ("--threads", "-2", "out of range"),
    ("--seconds", "nan", "out of range")])
def test_bench_refuses_what_it_cannot_measure_in_one_line(flag, value, said, capsys):
    """Tracebacks (size 0 or 7, threads -2), a throughput of 0 (batch 0), torch run under a made-up name."""
    from artifygan.cli import main

    with pytest.raises(SystemExit):
        main(["bench", flag, value])
    assert said in capsys.readouterr().err


def test_bench_memory_of_a_later_row_is_not_hidden_by_memory_an_earlier_row_freed():
    """A 128² row measured after a 256² one showed 0 MB (it reused what the 256² run freed); alone, 48."""
    rows = run_bench(("cartoongan",), sizes=(256, 128), batches=(1,), seconds=0.05, backends=("torch",))
    alone = run_bench(("cartoongan",), sizes=(128,), batches=(1,), seconds=0.05, backends=("torch",))
    after, first = rows[1].peak_mem_mb, alone[0].peak_mem_mb
    assert after > 0.5 * first > 0


def test_an_export_that_fails_its_parity_check_leaves_no_file(snapshot, tmp_path, monkeypatch, capsys):
    """It was written first: the snapshot's model.onnx, which --backend onnx then runs, stayed in place."""
    import artifygan.export as export

    monkeypatch.setattr(export, "parity", lambda *a, **k: 0.5)
    target = snapshot / "model.onnx"
    target.unlink(missing_ok=True)
    assert main(["export", "-m", str(snapshot)]) == 1
    assert "parity check failed (5.00e-01 > 1e-3)" in capsys.readouterr().err
    assert not target.exists() and not [p for p in snapshot.iterdir() if p.name.startswith(".")]
