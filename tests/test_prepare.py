"""`artifygan prepare` end to end: real shared subsets (skipped without them), resume, dedupe, shards."""

import json
import shutil
import tarfile

import pytest
from PIL import Image

from artifygan.cli import main
from artifygan.data.prepare import PrepareOptions, prepare
from artifygan.data.shards import write_shards
from artifygan.data.sources import ReaderOptions, read_sources
from artifygan.training.loop import train

from .conftest import ANIME, DATA, YUNET, need_shared, random_rgb, tiny_config

S2A = DATA / "selfie2anime"


def _opts(**kw):
    return PrepareOptions(size=64, yunet=str(YUNET), anime_cascade=str(ANIME), workers=kw.pop("workers", 1), **kw)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def s2a_subset(tmp_path_factory):
    if not (S2A / "trainA").is_dir():
        pytest.skip(f"shared data not available: {S2A}")
    root = tmp_path_factory.mktemp("s2a")
    for sub, n in (("trainA", 10), ("trainB", 10)):
        (root / sub).mkdir()
        for p in sorted((S2A / sub).iterdir())[:n]:
            shutil.copyfile(p, root / sub / p.name)
    # the same photo twice under another name, an unreadable file and a non-image
    first = sorted((root / "trainA").iterdir())[0]
    shutil.copyfile(first, root / "trainA" / "copy_of_first.jpg")
    data = first.read_bytes()
    (root / "trainA" / "broken.jpg").write_bytes(data[: len(data) // 2])  # header fine, pixels cut
    (root / "trainA" / "notes.txt").write_text("hello")
    return root


@need_shared(YUNET, ANIME)
def test_prepare_folders_resume_and_dedupe(s2a_subset, tmp_path):
    out = tmp_path / "prep"
    srcs = [f"photos:{s2a_subset / 'trainA'}", f"cartoons:{s2a_subset / 'trainB'}"]
    summary = prepare(read_sources(srcs, ReaderOptions()), out, _opts(workers=2), progress=False)
    kept = _rows(out / "manifest.jsonl")
    assert summary["kept_total"] == len(kept)
    assert summary["dropped"]["duplicate"] == 1
    assert summary["dropped"]["not an image"] == 1
    assert summary["dropped"]["unreadable image"] == 1
    assert "broken.jpg" in " ".join(summary["examples"]["unreadable image"])
    photos = [r for r in kept if r["role"] == "photo"]
    cartoons = [r for r in kept if r["role"] == "cartoon"]
    face_drops = summary["dropped"].get("no face detected", 0) + summary["dropped"].get("face too small", 0)
    assert len(cartoons) == 10 and len(photos) + face_drops == 10
    for r in photos:
        assert len(r["landmarks"]) == 5 and len(r["crop"]["affine"]) == 2 and len(r["hash"]) == 16
    for r in cartoons:
        assert (out / r["smoothed"]).is_file()
        with Image.open(out / r["file"]) as im:
            assert im.size == (64, 64)
    assert {r["split"] for r in kept} <= {"train", "val"}

    # re-running is a no-op
    again = prepare(read_sources(srcs, ReaderOptions()), out, _opts(), progress=False)
    assert _rows(out / "manifest.jsonl") == kept and again["kept_total"] == summary["kept_total"]

    # an interrupted run (last row and its file lost) redoes exactly that item
    lines = (out / "manifest.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    (out / "manifest.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # cut mid-line
    (out / last["file"]).unlink()
    prepare(read_sources(srcs, ReaderOptions()), out, _opts(), progress=False)
    rows = _rows(out / "manifest.jsonl")  # every line valid again
    assert sorted(r["key"] for r in rows) == sorted(r["key"] for r in kept)
    assert (out / last["file"]).is_file()

    # the prepared layout trains directly (smoothed copies read from disk)
    cfg = tiny_config(out / "train", "train.init_steps=1", "train.adv_steps=1",
                      f"data.smoothed={out / 'train' / 'smoothed'}", "train.batch_size=2")
    assert (train(cfg, run_root=tmp_path / "runs", progress=False) / "training_state.pt").is_file()

    # WebDataset shards
    shards = write_shards(out, samples_per_shard=4)
    with tarfile.open(shards[0]) as tar:
        names = tar.getnames()
    assert any(n.endswith(".json") for n in names) and any(n.endswith(".jpg") for n in names)
    assert sum(len(tarfile.open(s).getnames()) for s in shards) >= 2 * len(kept)


def test_a_missing_detector_is_one_line_with_worker_processes(tmp_path, capsys):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(10):  # enough for the worker pool (8 items or more)
        random_rgb(40, 40, seed=i).save(src / f"p{i}.png")
    missing = tmp_path / "no_such_yunet.onnx"
    rc = main(["prepare", f"photos:{src}", "-o", str(tmp_path / "out"), "--size", "32", "--yunet", str(missing),
               "--workers", "2", "-q"])
    err = capsys.readouterr().err
    assert rc != 0 and str(missing) in err and "BrokenProcessPool" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@need_shared(DATA / "celeba", DATA / "coco", YUNET)
def test_prepare_cli_celeba_and_coco(tmp_path, capsys):
    out = tmp_path / "prep"
    rc = main(["prepare", str(DATA / "celeba"), f"coco:{DATA / 'coco'}", "-o", str(out), "--size", "64",
               "--limit", "12", "--yunet", str(YUNET), "--workers", "1", "-q"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "list_eval_partition.txt 192,599" in text and "has no cartoons yet" in text  # photos only: no train line
    summary = json.loads((out / "summary.json").read_text())
    rows = _rows(out / "manifest.jsonl")
    celeba = [r for r in rows if r["dataset"] == "celeba"]
    coco = [r for r in rows if r["dataset"] == "coco"]
    face_drops = sum(v for k, v in summary["dropped"].items() if "face" in k)
    assert len(celeba) + face_drops == 12
    assert all(r["split"] == "train" and "attributes" in r for r in celeba[:3])
    assert len(coco) == 12 and all(r["crop"] == {"resize_shorter_side": 64} for r in coco)
    for r in coco:
        with Image.open(out / r["file"]) as im:
            assert min(im.size) == 64


@need_shared(ANIME)
def test_safebooru_illustrations_get_anime_face_crops(tmp_path):
    root = tmp_path / "sb"
    root.mkdir()
    rows = []
    src = sorted((S2A / "trainB").iterdir())[:6] if (S2A / "trainB").is_dir() else []
    if not src:
        pytest.skip(f"shared data not available: {S2A}")
    for i, p in enumerate(src):
        # paste each anime face into a larger 'illustration' so the detector must find it
        canvas = random_rgb(400, 400, i)
        canvas.paste(Image.open(p).convert("RGB"), (70, 40))
        canvas.save(root / f"{100 + i}.jpg")
        rows.append({"id": 100 + i, "rating": "safe", "tags": "1girl solo"})
    random_rgb(300, 300, 99).save(root / "199.jpg")  # noise: no face
    rows.append({"id": 199, "rating": "safe", "tags": "1girl solo"})
    (root / "posts.json").write_text(json.dumps(rows))
    summary = prepare(read_sources([f"safebooru:{root}"], ReaderOptions(tags=["solo"])), tmp_path / "out",
                      _opts(), progress=False)
    assert summary["dropped"]["no anime face detected"] >= 1
    assert summary["kept_total"] >= 4
    kept = _rows(tmp_path / "out" / "manifest.jsonl")
    assert all("box" in r["crop"] and r["smoothed"] for r in kept)


def test_unknown_source_layout_is_explained(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    assert main(["prepare", str(tmp_path / "plain"), "-o", str(tmp_path / "o")]) == 2
    assert "photos:" in capsys.readouterr().err


def _pictures(folder, names=("0.png", "1.png")):
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        random_rgb(40, 40, seed=i).save(folder / name)
    return folder


def test_prepare_never_writes_over_what_it_did_not_make(tmp_path, capsys):
    src = _pictures(tmp_path / "in")
    common = ["--photo-faces", "none", "--size", "32", "--workers", "1", "-q"]
    user = tmp_path / "userds"  # a user's folder of that name: refused before any work, untouched
    (user / "train" / "photos").mkdir(parents=True)
    (user / "train" / "photos" / "in_0.jpg").write_bytes(b"mine")
    assert main(["prepare", f"photos:{src}", "-o", str(user), *common]) == 2
    assert "is not a prepared dataset" in capsys.readouterr().err
    assert (user / "train" / "photos" / "in_0.jpg").read_bytes() == b"mine"

    foreign = tmp_path / "ud"  # a manifest.jsonl prepare did not write: named, left as it is
    foreign.mkdir()
    (foreign / "manifest.jsonl").write_text('my own log line\n{"a": 1}\n')
    assert main(["prepare", f"photos:{src}", "-o", str(foreign), *common]) == 2
    assert "manifest.jsonl: line 1 is not a row prepare wrote" in capsys.readouterr().err
    assert (foreign / "manifest.jsonl").read_text() == 'my own log line\n{"a": 1}\n'

    out = tmp_path / "prep"  # new: written; again: resumed (a prepared dataset is prepare's own)
    assert main(["prepare", f"photos:{src}", "-o", str(out), *common]) == 0
    assert main(["prepare", f"photos:{src}", "-o", str(out), *common]) == 0
    assert len(_rows(out / "manifest.jsonl")) == 2
    inner = _pictures(out / "extra", ("2.png",))  # an input inside the output: refused
    assert main(["prepare", f"photos:{inner}", "-o", str(out), *common]) == 2
    assert "an input inside the output folder" in capsys.readouterr().err

    a, b = _pictures(tmp_path / "c1" / "x", ("a_b.png",)), _pictures(tmp_path / "c2" / "x_a", ("b.png",))
    assert main(["prepare", f"photos:{a}", f"photos:{b}", "-o", str(tmp_path / "coll"), *common]) == 2
    err = capsys.readouterr().err  # one would have replaced the other; both named, and nothing written
    assert "would both be written as photos/.../x_a_b.jpg" in err and "a_b.png" in err and "b.png" in err
    assert not (tmp_path / "coll").exists()
    assert main(["prepare", f"photos:{a}", f"cartoons:{b}", "-o", str(tmp_path / "roles"), *common]) == 0  # apart
    # photos and cartoons from folders of one name: their records shared keys, and the cartoons overwrote
    # the photos (8 rows for 4 files, no photos folder); refused, both named, before anything is written
    p, c = _pictures(tmp_path / "A" / "faces", ("p0.png",)), _pictures(tmp_path / "B" / "faces", ("p0.png",))
    assert main(["prepare", f"photos:{p}", f"cartoons:{c}", "-o", str(tmp_path / "same"), *common]) == 2
    err = capsys.readouterr().err
    assert "(cartoon) and" in err and "(photo) share the record 'faces/p0'" in err and "distinct folder" in err
    assert not (tmp_path / "same").exists()


def test_prepare_refuses_what_would_leave_a_folder_that_misdescribes_itself(tmp_path, capsys):
    src = _pictures(tmp_path / "in")
    common = ["--photo-faces", "none", "--workers", "1", "-q"]
    out = tmp_path / "prep"
    assert main(["prepare", f"photos:{src}", "-o", str(out), "--size", "32", *common]) == 0
    # another size on a resume: its pictures would stay 32² while its summary said 48 (it did, exit 0)
    assert main(["prepare", f"photos:{src}", "-o", str(out), "--size", "48", *common]) == 2
    assert "was prepared with --size 32, not 48" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["options"]["size"] == 32

    empty = tmp_path / "nothing"  # nothing kept: exit 1, and the folder is still prepare's to resume
    empty.mkdir()
    assert main(["prepare", f"photos:{empty}", "-o", str(tmp_path / "p2"), "--size", "32", *common]) == 1
    assert "no picture was kept" in capsys.readouterr().out
    assert main(["prepare", f"photos:{src}", "-o", str(tmp_path / "p2"), "--size", "32", *common]) == 0

    # -o inside a folder source: the next run would read its own crops as new photos (it did)
    assert main(["prepare", f"photos:{src}", "-o", str(src / "prepared"), "--size", "32", *common]) == 2
    assert "inside the source folder" in capsys.readouterr().err and not (src / "prepared").exists()
    assert main(["prepare", f"banana:{src}", "-o", str(tmp_path / "p3"), *common]) == 2
    assert "unknown source kind 'banana'" in capsys.readouterr().err
    for flag, value in (("--size", "0"), ("--size", "100000"), ("--val-fraction", "1.5"), ("--val-fraction", "nan")):
        with pytest.raises(SystemExit):
            main(["prepare", f"photos:{src}", "-o", str(tmp_path / "p4"), flag, value, *common])
        assert f"argument {flag}:" in capsys.readouterr().err
    assert not (tmp_path / "p4").exists()


def test_an_interrupted_prepare_resumes_only_with_its_options_and_remakes_deleted_pictures(tmp_path, capsys):
    """The options were only in summary.json, written at the end: after Ctrl-C a resume with another --size
    mixed 32² and 96² pictures. A picture deleted since was recorded as a duplicate of itself."""
    src = _pictures(tmp_path / "in", ("0.png", "1.png", "2.png"))
    common = ["--photo-faces", "none", "--workers", "1", "-q"]
    out = tmp_path / "prep"
    assert main(["prepare", f"photos:{src}", "-o", str(out), "--size", "32", *common]) == 0
    (out / "summary.json").unlink()  # as an interrupted run leaves it: no summary yet
    assert main(["prepare", f"photos:{src}", "-o", str(out), "--size", "96", *common]) == 2
    assert "was prepared with --size 32, not 96" in capsys.readouterr().err
    gone = out / _rows(out / "manifest.jsonl")[0]["file"]
    gone.unlink()
    assert main(["prepare", f"photos:{src}", "-o", str(out), "--size", "32", *common]) == 0
    rows = _rows(out / "manifest.jsonl")
    assert gone.is_file() and len(rows) == 3 and len({r["key"] for r in rows}) == 3  # made again, listed once
    assert not (out / "dropped.jsonl").exists() or "duplicate" not in (out / "dropped.jsonl").read_text()
    assert json.loads((out / "summary.json").read_text())["kept_total"] == 3


def test_shards_of_an_earlier_run_are_replaced_not_left_beside(tmp_path):
    """--shards 3 then --shards 100 left the three old shards: 21 samples read for 11 pictures."""
    src = _pictures(tmp_path / "in", tuple(f"{i}.png" for i in range(5)))
    out = tmp_path / "prep"
    assert main(["prepare", f"photos:{src}", "-o", str(out), "--photo-faces", "none", "--size", "32",
                 "--workers", "1", "--val-fraction", "0", "-q"]) == 0
    assert len(write_shards(out, samples_per_shard=2)) == 3
    mine = out / "shards" / "notes.txt"
    mine.write_text("mine")
    assert [p.name for p in write_shards(out, samples_per_shard=100)] == ["train-photos-00000.tar"]
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["notes.txt", "train-photos-00000.tar"]


def test_filters_no_source_reads_and_unknown_splits_are_refused(tmp_path, capsys):
    """--splits banana dropped every CelebA picture as "split filter"; --tags or --attr with only a folder of
    photos filtered nothing, exit 0; --coco-min-area -5 kept every instance."""
    src = _pictures(tmp_path / "in")
    common = ["-o", str(tmp_path / "out"), "--photo-faces", "none", "--size", "32", "-q"]
    for extra, said in ((["--splits", "banana"], "--splits: banana: the official splits are train, val and test"),
                        (["--tags", "1girl"], "--tags filters safebooru sources, and none is given"),
                        (["--attr", "Male=1"], "--attr filters celeba sources, and none is given")):
        assert main(["prepare", f"photos:{src}", *common, *extra]) == 2
        assert said in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prepare", f"photos:{src}", *common, "--coco-min-area", "-5"])
    assert not (tmp_path / "out").exists()


def test_the_summary_counts_pictures_and_coco_instances_apart():
    """COCO whole mode said 'kept 13 … dropped 105' where 105 counted instances filtered out of pictures
    that were kept, beside pictures dropped whole."""
    from artifygan.data.prepare import PrepareOptions, format_summary, summarize
    from artifygan.data.readers import ReadResult

    read = ReadResult()
    read.dropped["instance: below min area"] += 90
    read.dropped["instance: crowd"] += 5
    read.drop("image: no person instance kept", "x.jpg")
    summary = summarize(read, [], [{"reason": "no face detected", "source": "y.jpg"}], PrepareOptions())
    assert summary["dropped_total"] == 2 and summary["instances_dropped_total"] == 95
    assert "dropped 2 picture(s) and 95 COCO instance(s):" in format_summary(summary)


def test_a_deleted_smoothed_copy_is_made_again_and_the_train_line_names_only_what_exists(tmp_path, capsys):
    """A smoothed copy deleted from the folder was not made again (training then failed on it); with
    --no-smooth, or without cartoons, the printed train command named folders that did not exist."""
    common = ["--photo-faces", "none", "--cartoon-faces", "none", "--workers", "1", "--val-fraction", "0", "-q",
              "--size", "32"]
    photos, cartoons = _pictures(tmp_path / "p" / "ph"), tmp_path / "c" / "ca"
    cartoons.mkdir(parents=True)
    for i in range(2):  # not the photos' pixels: a duplicate is dropped
        random_rgb(40, 40, seed=10 + i).save(cartoons / f"{i}.png")
    out = tmp_path / "prep"
    assert main(["prepare", f"photos:{photos}", f"cartoons:{cartoons}", "-o", str(out), *common]) == 0
    assert f"data.smoothed=[{out / 'train' / 'smoothed'}]" in capsys.readouterr().out
    smoothed = sorted((out / "train" / "smoothed").iterdir())
    assert smoothed
    smoothed[0].unlink()
    assert main(["prepare", f"photos:{photos}", f"cartoons:{cartoons}", "-o", str(out), *common]) == 0
    assert smoothed[0].is_file()  # made again
    capsys.readouterr()
    plain = tmp_path / "plain"
    assert main(["prepare", f"photos:{photos}", f"cartoons:{cartoons}", "-o", str(plain), *common,
                 "--no-smooth"]) == 0
    text = capsys.readouterr().out
    assert "train with:" in text and "data.smoothed" not in text
    only = tmp_path / "only"
    assert main(["prepare", f"photos:{photos}", "-o", str(only), *common]) == 0
    text = capsys.readouterr().out
    assert "train with:" not in text and "has no cartoons yet" in text
