"""New styles over HTTP (`POST /api/styles`, `GET /api/styles/{id}`), `Service.add_model` under threads,
styles kept in an explicit folder across restarts. Adaptation is faked (a ready-made snapshot): fast, CPU."""

import io
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import artifygan.web  # noqa: F401  (sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported)
from artifygan.models import GENERATORS, save_generator

from .conftest import random_rgb

gradio = pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'artifygan[web]')")
from fastapi.testclient import TestClient  # noqa: E402  (fastapi comes with gradio)

from artifygan.web.app import build_app, style_jobs  # noqa: E402
from artifygan.web.service import Limits, RequestError, Service  # noqa: E402

LIMITS = Limits(max_upload_mb=1, max_pixels=500_000)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class FakeAdapt:
    """Stands in for artifygan.styles.adapt: reads the references for real (the same reader and errors),
    then writes a ready-made snapshot instead of training. ``gate``: cleared, the job waits (stays running)."""

    def __init__(self, styled) -> None:
        self.styled, self.calls, self.gate = styled, [], threading.Event()
        self.gate.set()
        self.fail: str | None = None  # set: the job fails on ref02 with this message, as a reader would

    def __call__(self, refs, photos=None, base=None, out=None, progress=None, config=None, device="auto", **kw):
        from artifygan.styles import AdaptProgress, read_references

        references = read_references(refs, detect=False)
        if self.fail:
            from artifygan.imageio import ImageError

            raise ImageError(f"{Path(refs[0]) / 'ref02.png'}: {self.fail}")
        self.calls.append({"sizes": [r.image.size for r in references], "base": base, "nn_weight": config.nn_weight,
                           "style_loss": config.style_loss, "strength": config.strength,
                           "photo_colour": config.photo_colour, "background": config.background,
                           "eyes": config.eyes, "grey": config.grey})
        progress(AdaptProgress(1, 2, 0.1, 10.0, {}, preview=Image.new("RGB", (20, 16), (200, 30, 30))))
        assert self.gate.wait(30)
        shutil.copytree(self.styled, out)
        chosen = "match" if config.style_loss == "auto" else config.style_loss  # what a real adapt returns
        return SimpleNamespace(meta={"style": {"config": {"style_loss": chosen}}})


@pytest.fixture(scope="module")
def styled_snapshot(tmp_path_factory):
    """What the fake adapt "learns": another tiny generator, so its output differs from the base's."""
    torch.manual_seed(1)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    return save_generator(g, "light", tmp_path_factory.mktemp("styled") / "snap")


@pytest.fixture
def fake_adapt(monkeypatch, styled_snapshot):
    fake = FakeAdapt(styled_snapshot)
    monkeypatch.setattr("artifygan.styles.jobs.adapt", fake)
    yield fake
    fake.gate.set()


@pytest.fixture
def style_server(tiny_snapshot, tmp_path, fake_adapt):
    """A fresh service (a tiny model) whose styles go to tmp_path/styles, and its API client."""
    svc = Service({"tiny": tiny_snapshot}, LIMITS, device="cpu")
    jobs = style_jobs(svc, tmp_path / "styles")
    with TestClient(build_app(svc, jobs)) as c:
        yield svc, jobs, c


def pngs(*sizes, seed=0) -> list:
    return [("images", (f"ref{i}.png", png_bytes(random_rgb(w, h, seed + i)), "image/png"))
            for i, (w, h) in enumerate(sizes)]


def wait_job(client, job_id: str, timeout: float = 30) -> dict:
    deadline = time.time() + timeout
    while True:
        status = client.get(f"/api/styles/{job_id}").json()
        if status["state"] in ("done", "failed") or time.time() > deadline:
            return status
        time.sleep(0.05)


def test_style_api_learns_a_style_and_serves_it(style_server, fake_adapt, tiny_snapshot):
    _, _, client = style_server
    fake_adapt.gate.clear()  # held until the 202 is checked
    r = client.post("/api/styles", data={"name": "sketch"}, files=pngs((40, 32), (24, 48)))
    assert r.status_code == 202
    job = r.json()
    assert r.headers["location"] == f"/api/styles/{job['id']}"
    assert job["name"] == "sketch" and job["references"] == 2 and job["model"] is None and job["error"] is None
    assert job["state"] in ("queued", "running") and 0 <= job["progress"] < 1
    assert "sketch" not in client.get("/api/models").json()["models"]
    # while it learns: a preview of the style so far, as PNG
    deadline = time.time() + 30
    while client.get(f"/api/styles/{job['id']}").json()["preview"] is None and time.time() < deadline:
        time.sleep(0.05)
    running = client.get(f"/api/styles/{job['id']}").json()
    assert running["preview"] == f"/api/styles/{job['id']}/preview.png" and running["preview_step"] == 1
    shot = client.get(running["preview"])
    assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
    assert shot.headers["x-artifygan-step"] == "1"
    assert Image.open(io.BytesIO(shot.content)).getpixel((3, 3)) == (200, 30, 30)
    assert client.get("/api/styles/nope/preview.png").status_code == 404
    live = style_server[1].get(job["id"])
    refs_dir = Path(live.cleanup.args[0])  # the pictures' temp folder: removed at exit if the server stops now
    assert sorted(p.name for p in refs_dir.iterdir()) == ["01-ref0.png", "02-ref1.png"]  # the uploads' names
    fake_adapt.gate.set()
    done = wait_job(client, job["id"])
    assert done["state"] == "done" and done["progress"] == 1.0 and done["model"] == "sketch"
    assert not refs_dir.exists()
    assert done["error"] is None and done["message"] == "done" and done["style_loss"] == "match"
    assert running["style_loss"] is None  # known once done: what "auto" chose
    # the pictures reached adapt decoded, at their size, and the style started from the first model
    assert fake_adapt.calls == [{"sizes": [(40, 32), (24, 48)], "base": tiny_snapshot, "nn_weight": 0.0,
                                 "style_loss": "auto", "strength": 1.0,  # adapt chooses the loss from the pictures
                                 "photo_colour": 1.25, "background": "auto", "eyes": "auto",  # the server's
                                 "grey": "auto"}]
    assert client.get("/api/models").json()["models"] == ["tiny", "sketch"]
    assert [j["id"] for j in client.get("/api/styles").json()["jobs"]] == [job["id"]]

    photo = {"image": ("p.png", png_bytes(random_rgb(48, 40, seed=5)))}
    styled = client.post("/api/cartoonize?mode=whole&model=sketch", files=photo)
    base = client.post("/api/cartoonize?mode=whole&model=tiny", files=photo)
    assert styled.status_code == base.status_code == 200
    a, b = (np.asarray(Image.open(io.BytesIO(x.content)), np.int16) for x in (styled, base))
    assert a.shape == (40, 48, 3) and np.abs(a - b).mean() > 1  # translated with the new style
    r = client.post("/api/styles", data={"name": "sketch"}, files=pngs((32, 32)))
    assert r.status_code == 409 and "'sketch' exists already" in r.json()["detail"]


def test_style_api_takes_the_style_loss(style_server, fake_adapt):
    """style_loss=match: the job adapts with nearest-neighbour matching instead of the Gram loss."""
    _, _, client = style_server
    r = client.post("/api/styles", data={"name": "flat", "style_loss": "match"}, files=pngs((32, 32)))
    assert r.status_code == 202
    assert wait_job(client, r.json()["id"])["state"] == "done"
    assert fake_adapt.calls[-1]["nn_weight"] == 25.0 and fake_adapt.calls[-1]["style_loss"] == "match"
    r = client.post("/api/styles", data={"name": "flat2", "style_loss": "hatching"}, files=pngs((32, 32)))
    assert r.status_code == 400 and r.json()["detail"] == "style loss: 'hatching' is not one of auto, gram, match"
    assert len(fake_adapt.calls) == 1


def test_style_api_takes_the_strength(style_server, fake_adapt):
    """strength=0.5: the job adapts with AdaptConfig.strength 0.5; out of range or not a number: one line, 400."""
    _, _, client = style_server
    r = client.post("/api/styles", data={"name": "mild", "strength": "0.5"}, files=pngs((32, 32)))
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    assert fake_adapt.calls[-1]["strength"] == 0.5
    r = client.post("/api/styles", data={"name": "full"}, files=pngs((32, 32)))
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    assert fake_adapt.calls[-1]["strength"] == 1.0  # the default
    for value, detail in (("3", "strength: must be between 0 and 2, got 3.0"),
                          ("nan", "strength: must be between 0 and 2, got nan"),
                          ("lots", "strength: 'lots' is not a number between 0 and 2")):
        r = client.post("/api/styles", data={"name": "bad", "strength": value}, files=pngs((32, 32)))
        assert r.status_code == 400 and r.json()["detail"] == detail
    assert len(fake_adapt.calls) == 2


def test_style_api_takes_the_photo_colours_the_background_and_the_eyes(style_server, fake_adapt):
    """photo_colour, background and eyes reach adapt's config; empty means the server's setting; bad: one
    line, 400."""
    _, _, client = style_server
    r = client.post("/api/styles", data={"name": "own", "photo_colour": "0", "background": "#FFFFFF", "eyes": "1.3",
                                         "grey": "on"}, files=pngs((32, 32)))
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    keys = ("photo_colour", "background", "eyes", "grey")
    assert [fake_adapt.calls[-1][k] for k in keys] == [0.0, "#FFFFFF", "1.3", "on"]
    r = client.post("/api/styles", data={"name": "usual", "photo_colour": "", "background": " "}, files=pngs((32, 32)))
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    assert [fake_adapt.calls[-1][k] for k in keys] == [1.25, "auto", "auto", "auto"]
    for data, detail in (({"photo_colour": "4"}, "photo_colour: must be between 0 (off) and 3, got 4.0"),
                         ({"photo_colour": "grey"}, "photo_colour: 'grey' is not a number between 0 and 3"),
                         ({"background": "white"},
                          "background: auto, keep or a colour; a colour is written #rrggbb, got 'white'"),
                         ({"eyes": "huge"}, "eyes: auto, off or a scale in (1, 2], got 'huge'"),
                         ({"grey": "sepia"}, "grey: must be one of auto, on, off, got 'sepia'")):
        r = client.post("/api/styles", data={"name": "bad", **data}, files=pngs((32, 32)))
        assert r.status_code == 400 and r.json()["detail"] == detail
    assert len(fake_adapt.calls) == 2


def test_style_api_refuses_bad_requests_with_one_line(style_server, fake_adapt):
    _, jobs, client = style_server

    def refused(name, files, code):
        r = client.post("/api/styles", data={"name": name}, files=files)
        assert r.status_code == code, r.text
        detail = r.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail
        return detail

    assert refused("a", None, 400) == "upload 1–10 reference pictures as 'images' fields"
    assert refused("a", pngs(*[(20, 20)] * 11), 400) == "11 pictures: upload at most 10"
    bad = [*pngs((20, 20)), ("images", ("broken.jpg", b"\xff\xd8 not a jpeg", "image/jpeg"))]
    assert refused("a", bad, 400).startswith("picture 2 ('broken.jpg'): not an image this server can read")
    big = [("images", ("huge.png", png_bytes(Image.new("RGB", (1000, 600))), "image/png"))]
    assert refused("a", big, 413) == "picture 1 ('huge.png'): image too large: 1000×600 = 0.6 MP; the limit is 0.5 MP"
    heavy = [("images", ("n.png", b"\0" * (2**20 + 5), "image/png"))]
    assert "('n.png'): upload too large: over the 1 MB limit" in refused("a", heavy, 413)
    assert refused("a", pngs((20, 20), (40, 12)), 400) == (
        "picture 2 ('ref1.png'): too small for a style reference (40×12; at least 16 px a side)")
    assert refused("../etc", pngs((20, 20)), 400).startswith("style name: 1–40 letters")
    assert refused("", pngs((20, 20)), 400).startswith("style name")
    assert "'tiny' exists already" in refused("tiny", pngs((20, 20)), 409)
    assert fake_adapt.calls == [] and jobs.jobs == {}  # nothing was started
    r = client.get("/api/styles/0123456789ab")
    assert r.status_code == 404 and r.json()["detail"] == "no style job '0123456789ab'"


def test_style_api_one_job_at_a_time_and_failures(style_server, fake_adapt):
    svc, _, client = style_server
    fake_adapt.gate.clear()  # the first job stays running
    first = client.post("/api/styles", data={"name": "slow"}, files=pngs((32, 32))).json()
    deadline = time.time() + 10
    # the job is "running" just before adapt's first progress report: wait for that report
    while client.get(f"/api/styles/{first['id']}").json()["progress"] != 0.5 and time.time() < deadline:
        time.sleep(0.02)
    running = client.get(f"/api/styles/{first['id']}").json()
    assert running["state"] == "running" and running["progress"] == 0.5 and running["message"].startswith("step 1")
    r = client.post("/api/styles", data={"name": "other"}, files=pngs((32, 32)))
    assert r.status_code == 409 and r.json()["detail"] == "a style is being learned already; try again when it is done"
    assert "slow" not in svc.names  # offered only once it is done
    fake_adapt.gate.set()
    assert wait_job(client, first["id"])["state"] == "done" and "slow" in svc.names

    # a reference adapt refuses fails the job with the reader's message, without the server's paths
    fake_adapt.fail = "not an image this reader can use"
    r = client.post("/api/styles", data={"name": "tinyref"}, files=pngs((32, 32), (32, 32)))
    failed = wait_job(client, r.json()["id"])
    assert failed["state"] == "failed" and failed["model"] is None
    assert failed["error"] == "ref02.png: not an image this reader can use"
    assert failed["message"] == f"failed: {failed['error']}"
    assert "tinyref" not in client.get("/api/models").json()["models"]
    fake_adapt.fail = None
    r = client.post("/api/styles", data={"name": "tinyref"}, files=pngs((32, 32)))  # the name is free again
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    assert svc.names == ["tiny", "slow", "tinyref"]


def test_add_model_under_concurrent_threads(tiny_snapshot):
    class SwitchingDict(dict):
        """A thread switch between "is the name taken?" and the insert: without the lock, names go twice."""

        def __contains__(self, key) -> bool:
            found = super().__contains__(key)
            time.sleep(0.0005)
            return found

    svc = Service({"tiny": tiny_snapshot}, device="cpu")
    svc._paths = SwitchingDict(svc._paths)
    n, per = 8, 20
    barrier = threading.Barrier(n + 1)
    results: dict[int, list] = {i: [] for i in range(n)}
    seen_errors: list = []

    def writer(i: int) -> None:
        barrier.wait()
        for k in range(per):
            svc.add_model(f"w{i}-{k}", f"/nowhere/{i}/{k}")
            try:  # every thread also races for one shared name
                svc.add_model(f"shared{k}", f"/nowhere/{i}")
                results[i].append(k)
            except RequestError as exc:
                results[i].append(str(exc))

    def reader() -> None:
        barrier.wait()
        try:
            while any(t.is_alive() for t in writers):
                names, paths = svc.names, svc.paths
                assert names[0] == "tiny" and set(names) <= set(svc.names) and len(paths) >= len(names)
                with pytest.raises(RequestError, match="unknown model"):
                    svc.model("missing")
        except Exception as exc:  # "dictionary changed size during iteration" and the like
            seen_errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in writers:
        t.start()
    r = threading.Thread(target=reader)
    r.start()
    for t in writers:
        t.join(30)
    r.join(30)
    assert seen_errors == []
    names = svc.names
    assert len(names) == len(set(names)) == 1 + n * per + per
    for k in range(per):  # each shared name went to exactly one thread; the others were told why
        winners = [i for i in range(n) if k in results[i]]
        assert len(winners) == 1
        losers = [m for i in range(n) for m in results[i] if isinstance(m, str) and f"'shared{k}'" in m]
        assert losers == [f"a model named 'shared{k}' exists already; choose another name"] * (n - 1)
    with pytest.raises(TypeError):
        svc.paths["sneaky"] = "/etc"  # type: ignore[index]  (read-only: add_model is the one way in)
    with pytest.raises(RequestError, match="needs a name"):
        svc.add_model(" ", "/nowhere")


def test_styles_in_an_explicit_folder_are_served_after_a_restart(tiny_snapshot, styled_snapshot, tmp_path,
                                                                  monkeypatch, caplog):
    from artifygan.web.styles_api import STYLES_ENV

    root = tmp_path / "styles"
    root.mkdir()
    shutil.copytree(styled_snapshot, root / "sketch")  # a finished style
    shutil.copytree(styled_snapshot, root / "tiny")  # clashes with a served model: skipped, with a warning
    shutil.copytree(styled_snapshot, root / ".ink.1a2b")  # adapt's temporary folder
    (root / "half").mkdir()  # no config.json
    (root / "notes.txt").write_text("not a style")
    base = tiny_snapshot

    def restart():
        return Service({"tiny": base}, LIMITS, device="cpu")

    monkeypatch.delenv(STYLES_ENV, raising=False)
    svc = restart()
    style_jobs(svc)  # no folder given: a temporary one, nothing from before
    assert svc.names == ["tiny"]

    svc = restart()
    with caplog.at_level("WARNING", logger="artifygan.web.styles_api"):
        jobs = style_jobs(svc, root)
    assert svc.names == ["tiny", "sketch"] and svc.paths["tiny"] == base and jobs.base == base
    assert "a model named 'tiny' is served already" in caplog.text
    out = svc.translate(random_rgb(40, 32), "sketch", "whole").image
    assert out is not None and out.size == (40, 32)

    monkeypatch.setenv(STYLES_ENV, str(root))
    svc = restart()
    style_jobs(svc)
    assert svc.names == ["tiny", "sketch"]


def test_style_learned_over_http_survives_a_restart(tiny_snapshot, fake_adapt, tmp_path):
    root = tmp_path / "kept"
    svc = Service({"tiny": tiny_snapshot}, LIMITS, device="cpu")
    with TestClient(build_app(svc, style_jobs(svc, root))) as client:
        r = client.post("/api/styles", data={"name": "ink"}, files=pngs((32, 32)))
        assert wait_job(client, r.json()["id"])["state"] == "done"
    again = Service({"tiny": tiny_snapshot}, LIMITS, device="cpu")
    with TestClient(build_app(again, style_jobs(again, root))) as client:
        assert client.get("/api/models").json()["models"] == ["tiny", "ink"]
        r = client.post("/api/styles", data={"name": "ink"}, files=pngs((32, 32)))
        assert r.status_code == 409
        photo = {"image": ("p.png", png_bytes(random_rgb(24, 24)))}
        r = client.post("/api/cartoonize?mode=whole&model=ink", files=photo)
        assert r.status_code == 200


def test_serve_cli_styles_dir(tiny_snapshot, styled_snapshot, tmp_path, monkeypatch):
    import uvicorn

    from artifygan.cli import main

    root = tmp_path / "styles"
    shutil.copytree(styled_snapshot, root / "sketch")
    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))
    assert main(["serve", "-m", f"tiny={tiny_snapshot}", "--device", "cpu", "--styles-dir", str(root)]) == 0
    with TestClient(apps[0]) as client:
        assert client.get("/api/models").json()["models"] == ["tiny", "sketch"]


def test_a_server_that_stops_ends_the_running_style_at_its_next_step(tmp_path, monkeypatch):
    """Ctrl-C on `serve` mid-job aborted the process (exit 134: its thread was torn down inside torch)."""
    from artifygan.styles.adapt import AdaptProgress
    from artifygan.styles.jobs import StyleJobs

    steps = []

    def endless(refs, progress, **kwargs):  # an adapt that would run on and on
        while True:
            steps.append(1)
            progress(AdaptProgress(len(steps), 10**6, 0.0, 1e9, {}))
            time.sleep(0.01)

    monkeypatch.setattr("artifygan.styles.jobs.adapt", endless)
    jobs = StyleJobs(tmp_path / "styles", lambda name, path: None)
    job = jobs.start("forever", [Image.new("RGB", (32, 32))], [])
    while not steps:
        time.sleep(0.01)
    t = time.perf_counter()
    jobs.stop(timeout=10)
    assert time.perf_counter() - t < 5 and job.finished
    assert job.state == "failed" and job.error == "the server stopped"
    assert not any(th.is_alive() for th in jobs._threads)
