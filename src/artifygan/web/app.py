"""`artifygan serve`: a Gradio page and a small HTTP API on one FastAPI app.

The page: upload or webcam, model picker, face/whole mode, background, a before/after slider and a
download. The API, for scripts: ``POST /api/cartoonize`` (multipart ``image``; query ``model``, ``mode``,
``background``, ``side_by_side``) answers PNG bytes with the face boxes in the ``X-Artifygan-Faces``
header; ``GET /api/models``, ``GET /api/health``. Both go through :class:`Service` (limits, queue).
"""

from __future__ import annotations

import io
import json
import os

from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from .service import RequestError, Service, decode_upload

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline-safe: no telemetry, no version check
UPLOAD = File(..., description="the photo (PNG, JPEG, WebP, …) as multipart form data")


def build_page(service: Service):
    import gradio as gr

    def run(image, model, mode, background):
        if image is None:
            raise gr.Error("upload a photo first (or take one with the webcam)")
        try:
            result = service.translate(image, model, mode, background)
        except RequestError as exc:
            raise gr.Error(str(exc)) from None
        info = f"{result.mode} mode; faces translated: {sum(f.translated for f in result.faces)}"
        if result.note:
            info += f" ({result.note})"
        out = result.image
        return out, (image, out), f"{info}; {result.timings_ms.get('request', 0):.0f} ms"

    with gr.Blocks(title="ArtifyGAN", analytics_enabled=False) as page:
        gr.Markdown("# ArtifyGAN\nYour photo as an anime / cartoon picture. Faces are found, aligned, "
                    "translated and pasted back; *whole* translates the whole picture.")
        with gr.Row():
            with gr.Column():
                inp = gr.Image(type="pil", sources=["upload", "webcam", "clipboard"], label="Photo",
                               elem_id="photo", image_mode=None)
                model = gr.Dropdown(service.names, value=service.names[0], label="Style (model)", elem_id="model")
                mode = gr.Radio(["face", "whole"], value="face", label="Mode", elem_id="mode")
                background = gr.Radio(["cartoon", "keep", "blur"], value="cartoon",
                                      label="Background (face mode)", elem_id="background")
                go = gr.Button("Cartoonize", variant="primary", elem_id="run")
            with gr.Column():
                out = gr.Image(type="pil", label="Cartoon", elem_id="result", buttons=["download"], format="png",
                               interactive=False)
                slider = gr.ImageSlider(label="Before / after", elem_id="slider", type="pil")
                status = gr.Markdown(elem_id="status")
        go.click(run, [inp, model, mode, background], [out, slider, status], api_name="cartoonize",
                 concurrency_limit=1)
    page.queue(max_size=32, default_concurrency_limit=1)
    return page


def build_app(service: Service):
    """FastAPI app: the HTTP API under /api, the Gradio page at /."""
    import gradio as gr

    app = FastAPI(title="ArtifyGAN", docs_url="/api/docs", openapi_url="/api/openapi.json")
    limit = int(service.limits.max_upload_mb * 2**20)

    @app.get("/api/health")
    def health() -> dict:
        return {"ok": True, "served": service.served}

    @app.get("/api/models")
    def models() -> dict:
        return {"models": service.names, "limits": vars(service.limits)}

    @app.post("/api/cartoonize")
    async def cartoonize(image: UploadFile = UPLOAD, model: str | None = None, mode: str = "face",
                         background: str = "cartoon", side_by_side: bool = False) -> Response:
        data = await image.read(limit + 1)  # never more than the limit (+1 to notice) in memory
        try:
            picture = decode_upload(data, service.limits)
            result = await run_in_threadpool(service.translate, picture, model, mode, background)
        except RequestError as exc:
            code = 413 if "too large" in str(exc) else 400
            raise HTTPException(code, str(exc)) from None
        out = result.image
        if side_by_side:
            from ..inference.wild import side_by_side as pair

            out = pair(picture, out)
        buf = io.BytesIO()
        out.save(buf, format="PNG")
        faces = [{"box": f.box, "translated": f.translated} for f in result.faces]
        return Response(buf.getvalue(), media_type="image/png", headers={
            "X-Artifygan-Mode": result.mode, "X-Artifygan-Faces": json.dumps(faces),
            "X-Artifygan-Ms": str(result.timings_ms.get("request", 0))})

    page = build_page(service)
    return gr.mount_gradio_app(app, page, path="/", max_file_size=limit, ssr_mode=False, footer_links=["api"])


def serve(service: Service, host: str = "127.0.0.1", port: int = 7860) -> None:
    import uvicorn

    uvicorn.run(build_app(service), host=host, port=port, log_level="info")


__all__ = ["Service", "build_app", "serve"]
