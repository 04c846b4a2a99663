"""The server's life around its jobs: a style job cancelled, its clock stopped when it ends, bad folders
and detectors refused at start-up, and a SIGTERM that stops it cleanly (a bug hunt found each one)."""

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from PIL import Image

import artifygan.web  # noqa: F401  (sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported)

from .conftest import REPO, random_rgb

gradio = pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'artifygan[web]')")
from fastapi.testclient import TestClient  # noqa: E402  (fastapi comes with gradio)

from artifygan.styles import StyleError  # noqa: E402
from artifygan.styles.adapt import AdaptProgress  # noqa: E402
from artifygan.styles.jobs import StyleJobs  # noqa: E402
from artifygan.web.app import build_app  # noqa: E402
from artifygan.web.service import Service  # noqa: E402


@pytest.fixture
def endless(monkeypatch):
    """adapt replaced by one that runs until it is stopped, reporting a step every 10 ms."""
    steps: list[int] = []

    def run(refs, progress, **kwargs):
        while True:
            steps.append(1)
            progress(AdaptProgress(len(steps), 10**6, 0.0, 1e9, {}))
            time.sleep(0.01)

    monkeypatch.setattr("artifygan.styles.jobs.adapt", run)
    return steps


def wait_for(check, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_a_cancelled_job_stops_frees_its_name_and_its_clock(endless, tmp_path, tiny_snapshot):
    """One mistyped job blocked every new style for its ~3 minutes: nothing could stop it."""
    svc = Service({"tiny": tiny_snapshot}, device="cpu")
    jobs = StyleJobs(tmp_path / "styles", svc.add_model)
    with TestClient(build_app(svc, jobs)) as client:
        job = jobs.start("oops", [Image.new("RGB", (32, 32))], [])
        wait_for(lambda: endless)
        r = client.delete(f"/api/styles/{job.id}")
        assert r.status_code == 202 and r.json()["id"] == job.id
        wait_for(lambda: job.finished)
        assert job.state == "cancelled" and not jobs.busy()
        assert client.get(f"/api/styles/{job.id}").json()["state"] == "cancelled"
        assert client.delete(f"/api/styles/{job.id}").status_code == 409  # finished: nothing to cancel
        assert client.delete("/api/styles/nosuchjob").status_code == 404
        elapsed = job.status()["elapsed_s"]
        time.sleep(0.3)
        assert job.status()["elapsed_s"] == elapsed  # it grew on after the end
        again = jobs.start("oops", [Image.new("RGB", (32, 32))], [])  # the name and the slot are free
        wait_for(lambda: len(endless) > 3)
        jobs.stop(timeout=10)
        assert again.state == "failed" and again.error == "the server stopped"
    assert not (tmp_path / "styles" / "oops").exists()


def test_a_styles_folder_that_is_a_file_is_refused_at_start(tmp_path):
    """It started, took jobs, and each failed at its save, minutes later, naming the server's path."""
    (tmp_path / "cachefile").write_text("x")
    with pytest.raises(StyleError, match="cachefile: cannot write: .*cachefile is a file, not a folder"):
        StyleJobs(tmp_path / "cachefile", lambda name, path: None)
    with pytest.raises(StyleError, match="is a file, not a folder"):
        StyleJobs(tmp_path / "cachefile" / "styles", lambda name, path: None)


def test_adapt_refuses_an_output_under_a_file_before_training(tmp_path):
    from artifygan.styles.adapt import check_output

    (tmp_path / "f").write_text("x")
    with pytest.raises(StyleError, match=r"f/style: cannot write: .*f is a file, not a folder"):
        check_output(tmp_path / "f" / "style")


def test_a_detector_that_is_not_yunet_is_a_400_and_refused_by_serve(tiny_snapshot, tmp_path, monkeypatch, capsys):
    import uvicorn

    from artifygan.cli import main

    bad = tmp_path / "text.onnx"
    bad.write_text("not a network")
    svc = Service({"tiny": tiny_snapshot}, device="cpu", yunet=str(bad))
    with TestClient(build_app(svc)) as client:
        buf = io.BytesIO()
        random_rgb(48, 48).save(buf, format="PNG")
        r = client.post("/api/cartoonize?mode=face", files={"image": ("a.png", buf.getvalue())})
        assert r.status_code == 400 and "face mode needs the YuNet face detector" in r.json()["detail"]  # was 500
        assert str(tmp_path) not in r.text
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    for argv, env in (["--yunet", str(bad)], None), ([], str(bad)):
        if env:
            monkeypatch.setenv("ARTIFYGAN_YUNET", env)
        assert main(["serve", "-m", f"tiny={tiny_snapshot}", "--device", "cpu", *argv]) != 0
        assert "cannot load YuNet model" in capsys.readouterr().err
    assert not started


@pytest.mark.slow
def test_sigterm_stops_serve_cleanly_and_leaves_no_pictures_behind(tiny_snapshot, tmp_path):
    """uvicorn re-raised SIGTERM after its shutdown, which killed the process before the exit handlers ran:
    the style job's uploaded pictures, the styles folder and the page's uploads stayed in /tmp."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    env.pop("GRADIO_TEMP_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "artifygan", "serve", "-m", f"tiny={tiny_snapshot}", "--device",
                             "cpu", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.25)
        buf = io.BytesIO()
        random_rgb(64, 64).save(buf, format="PNG")
        body = (b"--xx\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nmine\r\n--xx\r\nContent-Disposition: "
                b"form-data; name=\"images\"; filename=\"r.png\"\r\nContent-Type: image/png\r\n\r\n"
                + buf.getvalue() + b"\r\n--xx--\r\n")
        req = urllib.request.Request(f"{base}/api/styles", body, {"Content-Type": "multipart/form-data; boundary=xx"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 202
        assert any(p.name.startswith("refs-") for p in tmp.iterdir())  # the job's copy of the picture
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0  # it died on the signal: 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ours = ("refs-", "artifygan-", "gradio")  # torch keeps its own compile cache there (torchinductor_*)
    assert [p.name for p in tmp.iterdir() if p.name.startswith(ours)] == []


def test_a_wrong_method_on_the_api_is_405_and_an_unknown_path_404(tiny_snapshot):
    """Both were the page's own 404 "Not Found", as if the endpoint did not exist."""
    with TestClient(build_app(Service({"tiny": tiny_snapshot}, device="cpu"))) as client:
        r = client.get("/api/cartoonize")
        assert r.status_code == 405 and r.headers["allow"] == "POST" and "use POST" in r.json()["detail"]
        r = client.delete("/api/models")
        assert r.status_code == 405 and r.headers["allow"] == "GET"
        assert client.put("/api/styles/abc").headers["allow"] == "DELETE, GET"
        r = client.get("/api/nothing")
        assert r.status_code == 404 and "no API endpoint /api/nothing" in r.json()["detail"]
        assert client.get("/api/health").status_code == 200 and client.get("/api/docs").status_code == 200


def test_a_job_that_cannot_start_fails_instead_of_blocking_every_later_one(endless, tmp_path, monkeypatch):
    """mkdtemp or the thread's start failing (no space, no threads) left the job "queued": busy forever."""
    jobs = StyleJobs(tmp_path / "styles", lambda name, path: None)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr("artifygan.styles.jobs.tempfile.mkdtemp", full)
        with pytest.raises(OSError, match="No space left"):
            jobs.start("first", [Image.new("RGB", (32, 32))], [])
    (failed,) = jobs.jobs.values()
    assert failed.state == "failed" and "No space left" in failed.error and not jobs.busy()
    again = jobs.start("first", [Image.new("RGB", (32, 32))], [])  # the slot and the name are free
    wait_for(lambda: endless)
    jobs.stop(timeout=10)
    assert again.state == "failed" and again.error == "the server stopped"


def test_a_transparent_reference_reaches_adapt_on_white_as_from_the_cli(tmp_path, monkeypatch):
    """Uploads were converted to RGB before they were stored: a transparent ground kept the colour under
    it (black), so a web style learnt a black backdrop where the CLI's learnt a white one."""
    from artifygan.imageio import load_image

    seen: list[tuple[int, ...]] = []

    def fake(refs, progress, **kwargs):
        (ref,) = sorted(refs[0].iterdir())
        seen.append(load_image(ref).getpixel((0, 0)))  # the reader adapt's references go through
        raise RuntimeError("enough")

    monkeypatch.setattr("artifygan.styles.jobs.adapt", fake)
    jobs = StyleJobs(tmp_path / "styles", lambda name, path: None)
    avatar = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    avatar.paste((200, 30, 30, 255), (10, 10, 30, 30))
    job = jobs.start("avatar", [avatar], [])
    wait_for(lambda: job.finished)
    assert seen == [(255, 255, 255)]


def test_stored_references_carry_the_uploads_names_safely(tmp_path, monkeypatch):
    """The style's config.json named its references ref01.png…: the user's own names, made safe."""
    seen: list[list[str]] = []

    def fake(refs, progress, **kwargs):
        seen.append(sorted(p.name for p in refs[0].iterdir()))
        raise RuntimeError("enough")

    monkeypatch.setattr("artifygan.styles.jobs.adapt", fake)
    jobs = StyleJobs(tmp_path / "styles", lambda name, path: None)
    names = ["../../etc/passwd.png", "C:\\Users\\me\\été 2.jpg", None]
    job = jobs.start("named", [Image.new("RGB", (32, 32))] * 3, [], names=names)
    wait_for(lambda: job.finished)
    assert seen == [["01-passwd.png", "02-t_2.png", "03-ref.png"]]
    with pytest.raises(StyleError, match=r"picture 2 \('été 2.jpg'\): too small"):
        jobs.start("small", [Image.new("RGB", (32, 32)), Image.new("RGB", (8, 8))], [], names=names)
