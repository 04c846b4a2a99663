"""`artifygan serve`: the HTTP API (limits, bad input, no paths) and the page in a real headless Chromium."""

import io
import json
import os
import shutil
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

import artifygan.web  # noqa: F401  (sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported)
from artifygan.models import GENERATORS, save_generator
from artifygan.styles import AdaptConfig

from .conftest import REPO, YUNET, random_rgb

gradio = pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'artifygan[web]')")
from fastapi.testclient import TestClient  # noqa: E402  (fastapi comes with gradio)

from artifygan.web.app import build_app  # noqa: E402
from artifygan.web.service import Limits, Service  # noqa: E402

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    torch.manual_seed(0)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    snap = save_generator(g, "light", tmp_path_factory.mktemp("model") / "snap")
    return Service({"tiny": snap}, Limits(max_upload_mb=1, max_pixels=500_000), device="cpu",
                   yunet=str(YUNET) if YUNET.exists() else None)


@pytest.fixture(scope="module")
def client(service):
    with TestClient(build_app(service)) as c:
        yield c


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_api_translates_and_reports(client):
    img = random_rgb(96, 64)
    r = client.post("/api/cartoonize?mode=whole", files={"image": ("a.png", png_bytes(img), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(r.content))
    assert out.size == (96, 64) and r.headers["x-artifygan-mode"] == "whole"
    r = client.post("/api/cartoonize?mode=whole&side_by_side=true", files={"image": ("a.png", png_bytes(img))})
    assert Image.open(io.BytesIO(r.content)).size == (192, 64)
    assert client.get("/api/models").json()["models"] == ["tiny"]
    assert client.get("/api/health").json()["ok"]


def test_api_ensemble_is_per_request(client, service):
    img = random_rgb(64, 48, seed=5)

    def post(query):
        r = client.post(f"/api/cartoonize?mode=whole{query}", files={"image": ("a.png", png_bytes(img))})
        assert r.status_code == 200
        return np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), np.int16)

    plain, x2, again = post(""), post("&tta=x2"), post("")
    assert np.abs(plain - x2).max() > 0 and np.array_equal(plain, again)  # x2 does not stick to the model
    r = client.post("/api/cartoonize?mode=whole&tta=x3", files={"image": ("a.png", png_bytes(img))})
    assert r.status_code == 400 and "test-time ensemble" in r.json()["detail"]
    assert np.array_equal(post("&clean_face=false"), plain)  # this model records no clean face skin
    r = client.post("/api/cartoonize?mode=whole&clean_face=maybe", files={"image": ("a.png", png_bytes(img))})
    assert r.status_code == 400 and "clean_face" in r.json()["detail"]


def test_api_limits_and_bad_requests(client):
    big = png_bytes(Image.new("RGB", (1000, 600)))  # 0.6 MP > the 0.5 MP limit, but a small upload
    r = client.post("/api/cartoonize?mode=whole", files={"image": ("big.png", big)})
    assert r.status_code == 413 and "image too large: 1000×600" in r.json()["detail"]
    noise = np.random.default_rng(0).integers(0, 255, (700, 700, 3), dtype=np.uint8)
    r = client.post("/api/cartoonize", files={"image": ("n.png", png_bytes(Image.fromarray(noise)))})
    assert r.status_code == 413 and "upload too large" in r.json()["detail"]
    r = client.post("/api/cartoonize", files={"image": ("x.png", b"not an image")})
    assert r.status_code == 400 and "not an image" in r.json()["detail"]
    r = client.post("/api/cartoonize?model=/etc/passwd", files={"image": ("a.png", png_bytes(random_rgb(8, 8)))})
    assert r.status_code == 400 and "unknown model" in r.json()["detail"]
    r = client.post("/api/cartoonize?model=too%20large", files={"image": ("a.png", png_bytes(random_rgb(8, 8)))})
    assert r.status_code == 400  # the words the user sent never choose the code (it was 413)
    r = client.post("/api/cartoonize?mode=sideways", files={"image": ("a.png", png_bytes(random_rgb(8, 8)))})
    assert r.status_code == 400
    r = client.post("/api/cartoonize?mode=whole")  # no image field: one line, 400 (was FastAPI's 422)
    assert r.status_code == 400 and r.json() == {"detail": "image: Field required"}
    r = client.post("/api/cartoonize?side_by_side=maybe", files={"image": ("a.png", png_bytes(random_rgb(8, 8)))})
    assert r.status_code == 400 and r.json()["detail"].startswith("side_by_side: ")
    thin = client.post("/api/cartoonize?mode=whole", files={"image": ("t.png", png_bytes(Image.new("RGB", (6000, 1))))})
    assert thin.status_code == 200 and Image.open(io.BytesIO(thin.content)).size == (6000, 1)  # padded, not 6 MP


def test_a_style_that_breaks_after_it_was_offered_is_a_clear_400(tmp_path):
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    good = save_generator(g, "light", tmp_path / "good")
    broken = save_generator(g, "light", tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"not weights")
    styles = tmp_path / "styles"  # a styles folder with one broken style: not offered at all
    save_generator(g, "light", styles / "bad")
    (styles / "bad" / "model.safetensors").write_bytes(b"")
    svc = Service({"good": good, "broken": broken}, device="cpu")
    from artifygan.web.styles_api import style_jobs

    with TestClient(build_app(svc, style_jobs(svc, styles))) as c:
        assert c.get("/api/models").json()["models"] == ["good", "broken"]
        r = c.post("/api/cartoonize?mode=whole&model=broken", files={"image": ("a.png", png_bytes(random_rgb(40, 40)))})
        said = "model 'broken' cannot be loaded on this server; choose another"
        assert r.status_code == 400 and r.json()["detail"] == said
        assert str(tmp_path) not in r.text


def test_concurrent_requests_are_queued_not_dropped(client, service):
    from concurrent.futures import ThreadPoolExecutor

    served = service.served
    body = png_bytes(random_rgb(64, 48))

    def post(_):
        return client.post("/api/cartoonize?mode=whole", files={"image": ("a.png", body)}).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(post, range(6)))
    assert codes == [200] * 6 and service.served == served + 6


def test_gradio_api_refuses_server_paths(client, service):
    served = service.served
    r = client.post("/gradio_api/call/cartoonize",
                    json={"data": [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "tiny", "whole",
                                   "keep", "off", True]})
    if r.status_code == 200:  # queued: the result stream must be an error, never a translation
        event = r.json()["event_id"]
        text = client.get(f"/gradio_api/call/cartoonize/{event}").text
        assert "event: error" in text
    else:
        assert r.status_code in (400, 403, 422)
    assert service.served == served


def _gradio_call(client, data: bytes, name: str) -> str:
    """Upload through the page's route and run its cartoonize event; the event stream's text."""
    up = client.post("/gradio_api/upload", files={"files": (name, data)})
    assert up.status_code == 200, up.text
    path = up.json()[0]
    r = client.post("/gradio_api/call/cartoonize", json={"data": [
        {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}, "tiny", "whole", "keep", "off",
        True]})
    assert r.status_code == 200, r.text
    return client.get(f"/gradio_api/call/cartoonize/{r.json()['event_id']}").text


def test_the_page_decodes_uploads_with_the_project_decoder(client, service):
    bomb = png_bytes(Image.new("1", (1200, 1000)))  # 1.2 MP > the 0.5 MP limit, a few kB: refused from its header
    text = _gradio_call(client, bomb, "big.png")
    assert "event: error" in text and "image too large: 1200\\u00d71000 = 1.2 MP" in text
    served = service.served
    text = _gradio_call(client, png_bytes(random_rgb(40, 32)), "ok.png")
    assert "event: complete" in text and service.served == served + 1
    # Gradio's own Image.open ran before the project decoder: its raw error, with the server's upload path
    for junk, name in ((b"not a picture", "notes.png"), (b"", "zero.png")):
        text = _gradio_call(client, junk, name)
        assert "event: error" in text and "not an image this server can read" in text, text
        assert "UnidentifiedImageError" not in text and "artifygan-uploads" not in text
    assert not list((REPO / "src" / "artifygan" / "web").glob("*.pyi"))  # a Gradio subclass wrote a stub there


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# the page's new-style jobs learn with a tiny budget (a few steps on 32² crops) so the browser test stays fast
TINY_ADAPT = AdaptConfig(steps=3, side=48, crop=32, batch_size=2, content="vgg19",
                         content_args={"pretrained": False, "layer": "relu2_2"}, style_layers=(),
                         discriminator_args={"base_ch": 8, "norm": "none", "spectral_norm": True},
                         detect_faces=False, lr_g=1e-2, ema=0.0)


@pytest.fixture(scope="module")
def server(service, tmp_path_factory):
    import uvicorn

    from artifygan.demo import synthetic_photo
    from artifygan.web.app import style_jobs

    photos = tmp_path_factory.mktemp("style-photos")
    for i in range(3):
        synthetic_photo(np.random.default_rng(i), 48).save(photos / f"{i}.png")
    styles = style_jobs(service, tmp_path_factory.mktemp("styles") / "styles", TINY_ADAPT, photos)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(build_app(service, styles), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started and time.time() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


NEED_BROWSER = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("ARTIFYGAN_REQUIRE_BROWSER"),
    reason="Debian chromium + chromium-driver not installed (.ci/run installs them)")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER or "/usr/bin/chromedriver"),
                              options=opts)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.slow
@NEED_BROWSER
def test_page_in_headless_chromium(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    photo = tmp_path / "photo.png"
    img = random_rgb(160, 120, seed=3)
    img.save(photo)
    driver.get(server)
    wait = WebDriverWait(driver, 90)
    upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#photo input[type=file]"))
    upload.send_keys(str(photo))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photo img"))
    driver.find_element(By.XPATH, "//*[@id='mode']//label[.//*[normalize-space()='whole']]").click()
    driver.find_element(By.ID, "run").click()
    result = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#result img[src]"))
    src = result.get_attribute("src")
    driver.save_screenshot(str(tmp_path / "page.png"))
    status = driver.find_element(By.ID, "status").text
    with urllib.request.urlopen(src, timeout=30) as resp:  # served by the app itself (localhost)
        out = Image.open(io.BytesIO(resp.read())).convert("RGB")
    assert out.size == img.size
    assert np.abs(np.asarray(out, np.int16) - np.asarray(img, np.int16)).mean() > 2  # not the input
    assert "whole mode" in status
    shot = Image.open(tmp_path / "page.png")
    assert shot.size[0] >= 800 and np.asarray(shot).std() > 5  # a rendered page, not blank
    if os.environ.get("ARTIFYGAN_SCREENSHOT"):
        shutil.copyfile(tmp_path / "page.png", os.environ["ARTIFYGAN_SCREENSHOT"])


@pytest.mark.slow
@NEED_BROWSER
def test_new_style_in_headless_chromium(server, service, browser, tmp_path):
    """Upload two style pictures, wait for the background job, translate with the new style."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from artifygan.demo import synthetic_cartoon

    driver = browser
    refs = [tmp_path / "ref1.png", tmp_path / "ref2.png"]
    for i, r in enumerate(refs):
        synthetic_cartoon(np.random.default_rng(10 + i), 64).save(r)
    photo = tmp_path / "photo.png"
    img = random_rgb(96, 80, seed=4)
    img.save(photo)
    driver.get(server)
    wait = WebDriverWait(driver, 120)
    upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#style-refs input[type=file]"))
    upload.send_keys("\n".join(map(str, refs)))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#style-refs [aria-label='ref2.png']"))
    driver.find_element(By.CSS_SELECTOR, "#style-name input, #style-name textarea").send_keys("mystyle")
    look = "//*[@id='style-look']//label[.//*[starts-with(normalize-space(), 'flat colours')]]"
    driver.find_element(By.XPATH, look).click()  # the nearest-neighbour matching loss instead of the Gram one
    from selenium.webdriver.common.keys import Keys

    amount = driver.find_element(By.CSS_SELECTOR, "#style-strength input[type=number]")
    amount.send_keys(Keys.CONTROL, "a")
    amount.send_keys("0.5", Keys.TAB)  # a milder style than the default 1
    driver.find_element(By.CSS_SELECTOR, "#style-colours input[type=checkbox]").click()  # the style's own colours
    driver.find_element(By.XPATH, "//*[@id='style-backdrop']//label[.//*[normalize-space()='white']]").click()
    driver.find_element(By.XPATH, "//*[@id='style-eyes']//label[.//*[normalize-space()='bigger']]").click()
    driver.find_element(By.XPATH, "//*[@id='style-grey']//label[.//*[normalize-space()='black and white']]").click()
    driver.find_element(By.ID, "style-learn").click()
    wait.until(lambda d: "learned" in d.find_element(By.ID, "style-status").text)
    assert "as flat colours and outlines" in driver.find_element(By.ID, "style-status").text  # the loss it used
    shot = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#style-preview img[src]"))[0].get_attribute("src")
    with urllib.request.urlopen(shot, timeout=30) as resp:  # the preview: a square of the first photo (side 48)
        assert Image.open(io.BytesIO(resp.read())).size == (TINY_ADAPT.side, TINY_ADAPT.side)
    assert "mystyle" in service.names  # offered by the server (picker, /api/models) from now on
    meta = json.loads((service.paths["mystyle"] / "config.json").read_text())
    assert len(meta["style"]["references"]) == 2 and meta["style"]["steps"] == TINY_ADAPT.steps
    assert (meta["style"]["config"]["nn_weight"], meta["style"]["config"]["style_weight"]) == (25, 0)
    assert meta["style"]["config"]["strength"] == 0.5  # the slider reached adapt
    assert meta["postprocess"] == {"grey": True, "background": {"colour": "#ffffff", "feather": 1.5},  # grey, white,
                                   "eyes": {"scale": 1.5, "radius": 0.45}}  # bigger eyes (no photo colours)

    driver.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(photo))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photo img"))
    driver.find_element(By.XPATH, "//*[@id='mode']//label[.//*[normalize-space()='whole']]").click()
    driver.find_element(By.ID, "run").click()  # the picker now holds the new style
    wait.until(lambda d: "mystyle, whole mode" in d.find_element(By.ID, "status").text)
    src = driver.find_element(By.CSS_SELECTOR, "#result img[src]").get_attribute("src")
    with urllib.request.urlopen(src, timeout=30) as resp:
        out = np.asarray(Image.open(io.BytesIO(resp.read())).convert("RGB"), np.int16)
    styled = np.asarray(service.translate(img, "mystyle", "whole").image, np.int16)
    base = np.asarray(service.translate(img, "tiny", "whole").image, np.int16)
    assert np.abs(out - styled).max() <= 1  # the page translated with the new style
    assert np.abs(out - base).mean() > 1  # which is not the model it started from


def test_serve_cli_parses_models():
    from artifygan.commands.serve import parse_models

    assert parse_models(None) == {"default": None}
    assert parse_models(["anime=runs/x", "runs/y/snap"]) == {"anime": "runs/x", "snap": "runs/y/snap"}
    assert parse_models(["a=dir=with=equals", "runs/z/"]) == {"a": "dir=with=equals", "z": "runs/z/"}
    with pytest.raises(ValueError, match="two models named 'snap'"):  # the second would hide the first
        parse_models(["runs/a/snap", "runs/b/snap"])
    for half in ("anime=", "=runs/x", " =runs/x"):  # "anime=" served ".", "=runs/x" could never be picked
        with pytest.raises(ValueError, match="give NAME=PATH with both parts"):
            parse_models([half])


def png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_upload_limit_message_names_the_limit(client):
    r = client.post("/api/cartoonize", files={"image": ("n.png", b"\0" * (2**20 + 5))})
    assert r.status_code == 413 and r.json()["detail"] == "upload too large: over the 1 MB limit"


def test_png_bomb_is_413_too_large(client):
    import struct
    import zlib

    side = 30000  # 900 MP of 1-bit pixels: 112 MB decoded from a ~100 kB file
    z = zlib.compressobj(9)
    row = b"\0" * (1 + side // 8)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    bomb = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))
    assert len(bomb) < 2**20
    r = client.post("/api/cartoonize?mode=whole", files={"image": ("bomb.png", bomb)})
    assert r.status_code == 413 and "too large" in r.json()["detail"]


def test_upload_uses_the_project_decoder_16bit_grey_tiff(client, tmp_path):
    from artifygan.imageio import load_image
    from artifygan.web.service import decode_upload

    ramp = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)  # 0..64491
    path = tmp_path / "grey16.tif"
    Image.fromarray(ramp).save(path)
    data = path.read_bytes()
    decoded = np.asarray(decode_upload(data, Limits()))
    assert np.array_equal(decoded, np.asarray(load_image(path)))  # the CLI's picture, exactly
    assert decoded.min() == 0 and decoded.max() > 240  # a ramp, not a flat blank
    r = client.post("/api/cartoonize?mode=whole&side_by_side=true", files={"image": ("g.tif", data)})
    left = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))[:, :64]
    assert r.status_code == 200 and np.array_equal(left, decoded)
    assert json.loads(r.headers["x-artifygan-faces"]) == [] and r.headers["x-artifygan-mode"] == "whole"
