"""`artifygan serve`: a Gradio page and a small HTTP API on one FastAPI app.

The page: upload or webcam, model picker, face/whole mode, background, a before/after slider and a
download. The API, for scripts: ``POST /api/cartoonize`` (multipart ``image``; query ``model``, ``mode``,
``background``, ``side_by_side``, ``tta``, ``clean_face``) answers PNG bytes with the face boxes in the
``X-Artifygan-Faces`` header; ``GET /api/models``, ``GET /api/health``; new styles: ``POST /api/styles`` and
``GET /api/styles/{id}`` (see :mod:`.styles_api`). Both go through :class:`Service` (limits, queue).
"""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from ..styles import MAX_REFERENCES, StyleError
from ..styles.jobs import StyleJobs
from .service import RequestError, Service, decode_upload
from .styles_api import add_style_routes, style_jobs

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline-safe: no telemetry, no version check
UPLOAD = File(..., description="the photo (PNG, JPEG, WebP, …) as multipart form data")
# the new-style panel's choice → the style loss (styles.config.STYLE_LOSSES)
LOOKS = {"decide from the pictures": "auto", "lines and texture (ink, pencil, prints)": "gram",
         "flat colours and outlines (avatars, vector art)": "match"}
# the panel's backdrop choice → AdaptConfig.background (artifygan.background)
BACKDROPS = {"as in the pictures (plain if most have a plain one)": "auto", "the photo's": "keep", "white": "#ffffff"}
# the panel's eyes choice → AdaptConfig.eyes (artifygan.eyes)
EYES = {"as in the pictures (bigger if they draw big eye whites)": "auto", "the photo's": "off", "bigger": "1.5"}
# the panel's colour choice → AdaptConfig.grey (artifygan.photo_colour.recorded_grey)
GREYS = {"as in the pictures (black and white if most are)": "auto", "black and white": "on", "in colour": "off"}


def style_panel(service: Service, jobs: StyleJobs, model):
    """The "new style" panel: upload 1–10 pictures, a progress bar and a preview while the job learns them."""
    import gradio as gr

    def learn(files, name, look, strength, colours, backdrop, eyes, grey,
              progress=gr.Progress()):  # noqa: B008  (Gradio's progress injection)
        if len(files or []) > MAX_REFERENCES:  # counted before any is decoded, as the HTTP route does
            raise gr.Error(f"{len(files)} pictures: upload at most {MAX_REFERENCES}")
        images = []
        for i, data in enumerate(files or []):
            try:
                images.append(decode_upload(data, service.limits))
            except RequestError as exc:
                raise gr.Error(f"picture {i + 1}: {exc}") from None
        try:
            job = jobs.start(name, images, service.names, LOOKS.get(look, "auto"), float(strength),
                             None if colours else 0.0, BACKDROPS.get(backdrop, "auto"), EYES.get(eyes, "auto"),
                             GREYS.get(grey, "auto"))
        except StyleError as exc:
            raise gr.Error(str(exc)) from None
        shown = -1
        while not job.finished:  # the adapt runs in its own thread; this only reports on it
            progress(job.fraction, desc=f"learning {job.name}: {job.message}")
            if job.preview is not None and job.preview_step != shown:  # a new picture of the style so far
                shown = job.preview_step
                what = "its colours, before any training" if shown == 0 else f"after {shown} steps"
                yield gr.update(), f"Learning **{job.name}**… preview: {what}.", job.preview
            time.sleep(0.5)
        if job.error:
            raise gr.Error(f"the style could not be learned: {job.error}")
        if job.state != "done":  # cancelled (DELETE /api/styles/{id}): nothing was kept
            yield gr.update(), f"Learning **{job.name}** was {job.state}; nothing was kept.", job.preview
            return
        how = next((k for k, v in LOOKS.items() if v == job.style_loss), None)
        yield gr.Dropdown(choices=service.names, value=job.name), (
            f"Style **{job.name}** learned from {job.n_refs} picture(s)" + (f", as {how}" if how else "")
            + "; it is selected above."), job.preview

    gr.Markdown("### New style\nUpload 1–10 pictures of a style (avatars, illustrations, prints: faces are "
                "found, any size). It is learned in the background (about 3 minutes on a CPU; translations "
                "keep working) and then appears in the style picker.")
    refs = gr.File(file_count="multiple", file_types=["image"], type="binary", label="Style pictures (1–10)",
                   elem_id="style-refs")
    name = gr.Textbox(label="Style name", placeholder="e.g. sketch", max_lines=1, elem_id="style-name")
    look = gr.Radio(list(LOOKS), value=next(iter(LOOKS)), label="What makes the style", elem_id="style-look")
    strength = gr.Slider(0, 2, value=1, step=0.1, label="Strength (1: the full style; lower: milder, more of the face)",
                         elem_id="style-strength")
    colours = gr.Checkbox(value=True, label="Keep the photo's colours outside the skin (off: the style's own "
                          "colours everywhere)", elem_id="style-colours")
    backdrop = gr.Radio(list(BACKDROPS), value=next(iter(BACKDROPS)), label="Background", elem_id="style-backdrop")
    eyes = gr.Radio(list(EYES), value=next(iter(EYES)), label="Eyes", elem_id="style-eyes")
    grey = gr.Radio(list(GREYS), value=next(iter(GREYS)), label="Black and white", elem_id="style-grey")
    go = gr.Button("Learn this style", elem_id="style-learn")
    status = gr.Markdown(elem_id="style-status")
    preview = gr.Image(type="pil", label="Preview: the style so far, on one of the photos it learns on",
                       elem_id="style-preview", interactive=False, format="png", height=256)
    go.click(learn, [refs, name, look, strength, colours, backdrop, eyes, grey], [model, status, preview],
             concurrency_limit=1,
             concurrency_id="adapt", api_visibility="private")


def hand_over_unopened(image) -> None:
    """Make a gr.Image(type="filepath") hand the upload's path over unopened. Gradio's own Image.open ran
    first, so a text file or a 400 MP PNG got Gradio's raw error, with the server's upload path in it,
    instead of the project decoder's one line (``run`` decodes every upload, as /api/cartoonize does).
    Set on the instance: a subclass made Gradio write a .pyi stub beside this module at import."""
    gradio_preprocess = image.preprocess

    def preprocess(payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return gradio_preprocess(payload)  # a data: URL (webcam, clipboard): Gradio writes the file

    image.preprocess = preprocess


def build_page(service: Service, styles: StyleJobs | None = None):
    import gradio as gr

    def run(image, model, mode, background, tta="off", clean_face=True):
        if image is None:
            raise gr.Error("upload a photo first (or take one with the webcam)")
        try:  # the one decoder, as /api/cartoonize: sizes refused from the header, 16-bit and EXIF as the CLI
            image = decode_upload(Path(image).read_bytes(), service.limits)
            result = service.translate(image, model, mode, background, tta, clean_face)
        except RequestError as exc:
            raise gr.Error(str(exc)) from None
        faces = sum(f.translated for f in result.faces)
        info = f"{model or service.names[0]}, {result.mode} mode; faces translated: {faces}"
        if result.note:
            info += f" ({result.note})"
        out = result.image
        return out, (image, out), f"{info}; {result.timings_ms.get('request', 0):.0f} ms"

    # every 30 minutes, the uploads and results older than an hour go (Gradio keeps them until deleted)
    with gr.Blocks(title="ArtifyGAN", analytics_enabled=False, delete_cache=(1800, 3600)) as page:
        gr.Markdown("# ArtifyGAN\nYour photo as an anime / cartoon picture. Faces are found, aligned, "
                    "translated and pasted back; *whole* translates the whole picture.")
        with gr.Row():
            with gr.Column():
                inp = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"], label="Photo",
                               elem_id="photo", image_mode=None)
                hand_over_unopened(inp)
                model = gr.Dropdown(service.names, value=service.names[0], label="Style (model)", elem_id="model")
                mode = gr.Radio(["face", "whole"], value="face", label="Mode", elem_id="mode")
                background = gr.Radio(["cartoon", "keep", "blur"], value="cartoon",
                                      label="Background (face mode)", elem_id="background")
                tta = gr.Radio([("off", "off"), ("x2: fewer stray lines, twice the time", "x2")], value="off",
                               label="Ensemble", elem_id="tta")
                clean_face = gr.Checkbox(value=True, label="Clean face skin (smooth the lines across cheeks and "
                                         "forehead, where the model records it)", elem_id="clean-face")
                go = gr.Button("Cartoonize", variant="primary", elem_id="run")
            with gr.Column():
                out = gr.Image(type="pil", label="Cartoon", elem_id="result", buttons=["download"], format="png",
                               interactive=False)
                slider = gr.ImageSlider(label="Before / after", elem_id="slider", type="pil")
                status = gr.Markdown(elem_id="status")
        with gr.Column(variant="panel"):
            style_panel(service, styles or style_jobs(service), model)
        go.click(run, [inp, model, mode, background, tta, clean_face], [out, slider, status], api_name="cartoonize",
                 concurrency_limit=1)
        # styles learned since the page was served by another visitor: offered on (re)load
        page.load(lambda: gr.Dropdown(choices=service.names), None, model, api_visibility="private")
    page.queue(max_size=32, default_concurrency_limit=1)
    return page


def build_app(service: Service, styles: StyleJobs | None = None):
    """FastAPI app: the HTTP API under /api, the Gradio page at /; ``styles``: the new-style jobs (options)."""
    import gradio as gr

    app = FastAPI(title="ArtifyGAN", docs_url="/api/docs", openapi_url="/api/openapi.json")
    limit = int(service.limits.max_upload_mb * 2**20)
    styles = style_jobs(service) if styles is None else styles  # one set of jobs for the page and the API
    add_style_routes(app, service, styles)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A missing or malformed field is a bad request (400) in one line, like every other refusal here,
        not FastAPI's 422 with a list of validator records."""
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
                 for e in exc.errors()[:3]]
        return JSONResponse({"detail": "; ".join(parts) or "bad request"}, status_code=400)

    @app.get("/api/health")
    def health() -> dict:
        return {"ok": True, "served": service.served}

    @app.get("/api/models")
    def models() -> dict:
        return {"models": service.names, "limits": vars(service.limits)}

    @app.post("/api/cartoonize")
    async def cartoonize(image: UploadFile = UPLOAD, model: str | None = None, mode: str = "face",
                         background: str = "cartoon", side_by_side: bool = False, tta: str = "off",
                         clean_face: bool = True) -> Response:
        data = await image.read(limit + 1)  # never more than the limit (+1 to notice) in memory
        try:  # decoding and encoding off the event loop: a large upload never stalls the page or job polls
            picture = await run_in_threadpool(decode_upload, data, service.limits)
            result = await run_in_threadpool(service.translate, picture, model, mode, background, tta, clean_face)
        except RequestError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        out = result.image
        if out is None:  # only when no face is found under no_face="skip", which the service never asks for
            raise HTTPException(422, "no face found in the picture")
        if side_by_side:
            from ..inference.wild import side_by_side as pair

            out = pair(picture, out)
        buf = io.BytesIO()
        await run_in_threadpool(out.save, buf, format="PNG")
        faces = [{"box": f.box, "translated": f.translated} for f in result.faces]
        return Response(buf.getvalue(), media_type="image/png", headers={
            "X-Artifygan-Mode": result.mode, "X-Artifygan-Faces": json.dumps(faces),
            "X-Artifygan-Ms": str(result.timings_ms.get("request", 0))})

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def api_fallback(request: Request, rest: str) -> JSONResponse:
        """Under /api only: a known path asked with another method is 405 (with Allow), an unknown path a
        404 in JSON (the page at / answered both with its own 404, as if the endpoint did not exist)."""
        path = request.url.path
        allowed = sorted({m for r in app.routes if isinstance(r, APIRoute) and r.endpoint is not api_fallback
                          and r.path_regex.match(path) for m in (r.methods or ())} - {"HEAD"})
        if allowed:
            return JSONResponse({"detail": f"{request.method} is not allowed on {path}; use {', '.join(allowed)}"},
                                status_code=405, headers={"Allow": ", ".join(allowed)})
        return JSONResponse({"detail": f"no API endpoint {path[:80]}; see /api/docs"}, status_code=404)

    page = build_page(service, styles)
    return gr.mount_gradio_app(app, page, path="/", max_file_size=limit, ssr_mode=False, footer_links=["api"])


def serve(service: Service, host: str = "127.0.0.1", port: int = 7860,
          styles_dir: str | Path | None = None) -> None:
    """Run the app; ``styles_dir`` (else $ARTIFYGAN_STYLES_DIR): where new styles are kept across restarts.

    The page's uploads and results go to a folder of this server's own (unless $GRADIO_TEMP_DIR names
    one), removed when it stops, and older than an hour are removed while it runs: people's photos do not
    pile up in /tmp/gradio. SIGTERM (docker stop, systemd) stops it as Ctrl-C does, with that cleanup."""
    import uvicorn

    from ..inference.video import sigterm_as_exit

    if not os.environ.get("GRADIO_TEMP_DIR"):
        uploads = tempfile.mkdtemp(prefix="artifygan-uploads-")
        os.environ["GRADIO_TEMP_DIR"] = uploads  # read when the page is built, below
        atexit.register(shutil.rmtree, uploads, ignore_errors=True)
    app = build_app(service, style_jobs(service, styles_dir))
    # uvicorn shuts down gracefully on SIGTERM, then raises it again to the handler found before it started:
    # the default one killed the process with no exit handler run (users' pictures stayed in /tmp)
    with sigterm_as_exit(0):
        uvicorn.run(app, host=host, port=port, log_level="info")


__all__ = ["Service", "build_app", "serve", "style_jobs"]
