"""Nothing a user owns is overwritten, and every bad input to `artifygan translate` gets one clear line."""

import os

import pytest
from PIL import Image

from artifygan.cli import main

from .conftest import random_rgb


def run(snapshot, *args: str) -> int:
    return main(["translate", *args, "-m", str(snapshot), "-q", "--device", "cpu", "--mode", "whole"])


def test_output_folder_of_the_input_file_never_replaces_it(tiny_snapshot, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    random_rgb(24, 20).save("me.jpg")
    photo = (tmp_path / "me.jpg").read_bytes()
    rc = run(tiny_snapshot, "me.jpg", "-o", ".")
    cap = capsys.readouterr()
    assert rc == 1 and "wrote 0 image(s)" in cap.out
    assert "me.jpg: not translated: its output me.jpg would replace the input itself" in cap.err
    assert (tmp_path / "me.jpg").read_bytes() == photo and os.listdir(tmp_path) == ["me.jpg"]
    assert run(tiny_snapshot, "me.jpg", "-o", ".", "--ext", "png") == 0  # another name: fine
    assert sorted(os.listdir(tmp_path)) == ["me.jpg", "me.png"] and (tmp_path / "me.jpg").read_bytes() == photo


def test_output_folder_that_is_the_input_folder_is_refused_up_front(tiny_snapshot, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    random_rgb(24, 20).save(photos / "a.jpg")
    before = (photos / "a.jpg").read_bytes()
    rc = run(tiny_snapshot, str(photos), "-o", str(tmp_path / "photos" / ".." / "photos"))
    assert rc == 2 and "is the input folder" in capsys.readouterr().err
    assert os.listdir(photos) == ["a.jpg"] and (photos / "a.jpg").read_bytes() == before


def test_an_input_listed_twice_through_two_names_is_not_overwritten(tiny_snapshot, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    random_rgb(24, 20).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "sub").mkdir()
    random_rgb(24, 20, seed=1).save(tmp_path / "in" / "sub" / "b.png")
    before = (tmp_path / "in" / "sub" / "b.png").read_bytes()
    # b.png in the input folder "in/sub" is also the output of "in/sub/b.png" translated into in/sub
    rc = run(tiny_snapshot, str(tmp_path / "in" / "sub" / "b.png"), str(tmp_path / "in" / "a.png"),
             "-o", str(tmp_path / "in" / "sub"))
    err = capsys.readouterr().err
    assert rc == 1 and "would replace the input itself" in err
    assert (tmp_path / "in" / "sub" / "b.png").read_bytes() == before
    assert (tmp_path / "in" / "sub" / "a.png").is_file()  # the rest still finishes


def test_one_file_given_twice_is_translated_once_without_an_error(tiny_snapshot, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    random_rgb(24, 20).save("a.png")
    assert run(tiny_snapshot, "a.png", "./a.png", str(tmp_path / "a.png"), "-o", "out") == 0
    cap = capsys.readouterr()
    assert "wrote 1 image(s)" in cap.out and "failed" not in cap.out and "error" not in cap.err
    assert cap.err.count("a.png: given more than once; translated once") == 2
    assert os.listdir(tmp_path / "out") == ["a.png"]


def test_output_inside_an_input_folder_is_never_read_back(tiny_snapshot, tmp_path, capsys):
    nest = tmp_path / "nest"
    nest.mkdir()
    for i in range(2):
        random_rgb(24, 20, seed=i).save(nest / f"{i}.png")
    assert run(tiny_snapshot, str(nest), "-o", str(nest / "cartoons")) == 0
    assert "wrote 2 image(s)" in capsys.readouterr().out
    assert run(tiny_snapshot, str(nest), "-o", str(nest / "cartoons"), "--overwrite") == 0
    cap = capsys.readouterr()
    assert "wrote 2 image(s)" in cap.out and "cartoons: the output folder, inside the input folder" in cap.err
    assert sorted(p.relative_to(nest).as_posix() for p in nest.rglob("*")) == [
        "0.png", "1.png", "cartoons", "cartoons/0.png", "cartoons/1.png"]


def test_a_file_already_at_an_outputs_name_is_kept_unless_overwrite(tiny_snapshot, tmp_path, capsys):
    random_rgb(24, 20, seed=0).save(tmp_path / "a.jpg")
    random_rgb(24, 20, seed=1).save(tmp_path / "b.jpg")
    out = tmp_path / "out"
    out.mkdir()
    mine = b"the user's own picture"
    (out / "a.png").write_bytes(mine)  # a.jpg's output under --ext png
    (out / "b.png.json").write_bytes(mine)  # b.jpg's sidecar under --json
    assert run(tiny_snapshot, str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "-o", str(out), "--ext", "png",
               "--json") == 1
    cap = capsys.readouterr()
    assert "a.png already exists; --overwrite replaces it" in cap.err and "b.png.json already exists" in cap.err
    assert (out / "a.png").read_bytes() == mine and (out / "b.png.json").read_bytes() == mine
    assert not (out / "b.png").exists() and "wrote 0 image(s)" in cap.out
    assert run(tiny_snapshot, str(tmp_path / "a.jpg"), "-o", str(out), "--ext", "png", "--overwrite") == 0
    assert Image.open(out / "a.png").size == (24, 20)  # replaced, as asked


def test_a_sidecar_that_cannot_be_written_leaves_no_picture_behind(tiny_snapshot, tmp_path, capsys):
    """The picture was written first and kept when its .json failed (a name at the file system's limit):
    the batch blamed the picture, and a rerun refused it as "already exists"."""
    long = "L" * 250  # 254 bytes with ".png": the picture fits, "…png.json" (259) does not
    random_rgb(24, 20).save(tmp_path / f"{long}.png")
    random_rgb(24, 20, seed=1).save(tmp_path / "b.png")
    out = tmp_path / "out"
    assert run(tiny_snapshot, str(tmp_path / f"{long}.png"), str(tmp_path / "b.png"), "-o", str(out),
               "--json") == 1
    cap = capsys.readouterr()
    assert f"{long}.png.json: cannot write" in cap.err and "wrote 1 image(s)" in cap.out
    assert sorted(p.name for p in out.iterdir()) == ["b.png", "b.png.json"]  # the other one finished


def test_existing_file_as_output_is_refused_before_any_work(tmp_path, capsys):
    random_rgb(24, 20).save(tmp_path / "a.jpg")
    (tmp_path / "existing_file.txt").write_text("mine")
    # no model at that path either: the output is checked first, so the answer is about the output
    rc = run(tmp_path / "no-model", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "existing_file.txt"))
    err = capsys.readouterr().err
    assert rc == 2 and "existing_file.txt: the output must be a folder" in err and "no-model" not in err
    assert (tmp_path / "existing_file.txt").read_text() == "mine"
    rc = run(tmp_path / "no-model", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "existing_file.txt" / "sub"))
    assert rc == 2 and "existing_file.txt is a file" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_broken_and_looping_links_are_reported_and_the_rest_finish(tiny_snapshot, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    random_rgb(24, 20).save(src / "ok.png")
    os.symlink("gone.jpg", src / "broken.jpg")
    os.symlink("loop2.png", src / "loop1.png")
    os.symlink("loop1.png", src / "loop2.png")
    rc = run(tiny_snapshot, str(src), "-o", str(tmp_path / "out"))
    cap = capsys.readouterr()
    errors = [line for line in cap.err.splitlines() if line.startswith("error:")]
    assert rc == 1 and len(errors) == 3 and "wrote 1 image(s)" in cap.out
    assert any("broken.jpg: broken symbolic link (to gone.jpg" in e for e in errors)
    assert sum("symbolic link loop" in e for e in errors) == 2


def test_animated_gif_points_at_the_video_command(tiny_snapshot, tmp_path, capsys):
    frames = [random_rgb(24, 20, seed=i) for i in range(4)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=80)
    assert run(tiny_snapshot, str(tmp_path / "anim.gif"), "-o", str(tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert "anim.gif: animated (4 frames)" in err and "artifygan video" in err
    with Image.open(tmp_path / "out" / "anim.png") as im:
        assert im.size == (24, 20)


def test_odd_file_names_stay_on_one_line(tiny_snapshot, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "two\nlines.jpg").write_bytes(b"not a jpeg")
    random_rgb(24, 20).save(src / "fine.png")
    rc = run(tiny_snapshot, str(src), "-o", str(tmp_path / "out"))
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and len(err) == 1 and err[0].startswith("error: ") and "two\\nlines.jpg" in err[0]


@pytest.mark.parametrize("argv, said", [
    (["translate", "a.jpg", "-o", "o", "--max-side", "-5"], "--max-side: -5 is out of range: must be at least 0"),
    (["translate", "a.jpg", "-o", "o", "--face-size", "0"], "--face-size: 0 is out of range"),
    (["translate", "a.jpg", "-o", "o", "--resize", "-3"], "--resize: -3 is out of range"),
    (["video", "a.mp4", "-o", "o.mp4", "--smooth", "1"], "--smooth: 1 is out of range: must be at least 0 and below 1"),
    (["video", "a.mp4", "-o", "o.mp4", "--deflicker", "nan"], "--deflicker: nan is out of range"),
    (["video", "a.mp4", "-o", "o.mp4", "--crf", "99"], "--crf: 99 is out of range"),
    (["video", "a.mp4", "-o", "o.mp4", "--max-frames", "-1"], "--max-frames: -1 is out of range"),
    (["serve", "--port", "70000"], "--port: 70000 is out of range"),
    (["translate", "a.jpg", "-o", "o", "--batch-size", "two"], "--batch-size: 'two' is not an integer"),
])
def test_out_of_range_flags_are_one_line_before_any_work(argv, said, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and said in err and "Traceback" not in err
