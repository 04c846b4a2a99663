"""New styles over HTTP: ``POST /api/styles`` starts learning one, ``GET /api/styles/{id}`` reports on it,
``DELETE /api/styles/{id}`` cancels it.

The job logic is :class:`artifygan.styles.jobs.StyleJobs`, shared with the page's "New style" panel: one
adapt at a time in its own thread, the finished style published with :meth:`Service.add_model`, so it is
in ``/api/models`` and ``/api/cartoonize?model=NAME`` from then on. Uploads go through the same decoder
and limits as ``/api/cartoonize``, one picture at a time.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import shutil
import tempfile
from pathlib import Path

from fastapi import FastAPI, File, Form, HTTPException, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from ..models import load_generator
from ..models.snapshot import SnapshotError
from ..styles import MAX_REFERENCES, AdaptConfig, StyleError
from ..styles.jobs import StyleConflict, StyleJobs, upload_name
from .service import RequestError, Service, decode_upload

log = logging.getLogger(__name__)
STYLES_ENV = "ARTIFYGAN_STYLES_DIR"
IMAGES = File(None, description=f"1–{MAX_REFERENCES} pictures of the style, each as an 'images' field")
NAME = Form("", description="the new style's name: 1–40 letters, digits, '-' or '_'")
STYLE_LOSS = Form("auto", description="what carries the style: auto (match for mostly flat-colour pictures, else "
                  "gram), gram (line texture and tones: ink, pencil, prints) or match (flat colour areas and "
                  "outlines: avatars, vector art)")
STRENGTH = Form("1", description="how far the style moves from the base model: 0–2 (1: the full style, "
                "0.5: a milder one)")
PHOTO_COLOUR = Form("", description="the photo's colours outside the skin, saturation × this gain: 0–3 (0: the "
                    "style's own colours; empty: the server's setting, 1.25 unless changed)")
BACKGROUND = Form("", description="the style's backdrop: auto (the pictures' plain backdrop when most have one), "
                  "keep (the photo's) or a colour #rrggbb; empty: the server's setting (auto unless changed)")
EYES = Form("", description="the style's eyes: auto (bigger when the pictures draw big eye whites), off (the "
            "photo's) or a scale in (1, 2]; empty: the server's setting (auto unless changed)")
GREY = Form("", description="black-and-white outputs: auto (when most pictures are black and white), on or off; "
            "empty: the server's setting (auto unless changed)")


def style_jobs(service: Service, root: str | Path | None = None, config: AdaptConfig | None = None,
               photos: str | Path | None = None) -> StyleJobs:
    """The server's new-style jobs, started from its first model and published with ``add_model``.

    Written under ``root``, else $ARTIFYGAN_STYLES_DIR, else a per-process folder in the temp dir. A
    folder given either way is the user's: the styles already finished there are served again (a
    restart keeps them); a style whose name a served model has already is skipped with a warning.
    """
    explicit = root or os.environ.get(STYLES_ENV)
    folder = Path(explicit or tempfile.mkdtemp(prefix="artifygan-styles-"))
    if not explicit:  # the server's own: its styles last as long as the server, then the folder goes
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    jobs = StyleJobs(folder, service.add_model, config=config, photos=photos,
                     base=service.paths[service.names[0]], device=service.device)
    if explicit:
        for name, path in jobs.finished_styles().items():
            try:
                load_generator(path)  # a broken folder is not offered (it answered 500 when asked for)
            except SnapshotError as exc:
                log.warning("style %s is not served: %s", path, exc)
                continue
            try:
                service.add_model(name, path)
            except RequestError:
                log.warning("style %s in %s is not served: a model named %r is served already", path, folder, name)
    return jobs


def _label(filename: str | None) -> str:
    """The upload's own file name, short and on one line, for messages (never a server path)."""
    base = upload_name(filename)
    return repr(base[:80]) if base else "without a name"


def add_style_routes(app: FastAPI, service: Service, jobs: StyleJobs) -> None:
    """``POST /api/styles`` (202 + job), ``GET /api/styles`` (all jobs), ``GET /api/styles/{job_id}``,
    ``GET /api/styles/{job_id}/preview.png`` (the style so far, once the job has made a preview)."""
    limit = int(service.limits.max_upload_mb * 2**20)

    @app.post("/api/styles", status_code=202)
    async def new_style(response: Response, name: str = NAME, images: list[UploadFile] | None = IMAGES,
                        style_loss: str = STYLE_LOSS, strength: str = STRENGTH, photo_colour: str = PHOTO_COLOUR,
                        background: str = BACKGROUND, eyes: str = EYES, grey: str = GREY) -> dict:
        """Start learning a style; poll the job's URL (the Location header) until its state is done."""
        try:
            amount = float(strength)
        except ValueError:
            raise HTTPException(400, f"strength: {strength[:20]!r} is not a number between 0 and 2") from None
        try:
            gain = float(photo_colour) if photo_colour.strip() else None
        except ValueError:
            raise HTTPException(400, f"photo_colour: {photo_colour[:20]!r} is not a number between 0 and 3") from None
        files = images or []
        if not files:
            raise HTTPException(400, f"upload 1–{MAX_REFERENCES} reference pictures as 'images' fields")
        if len(files) > MAX_REFERENCES:  # before any is read or decoded
            raise HTTPException(400, f"{len(files)} pictures: upload at most {MAX_REFERENCES}")
        pictures = []
        for i, upload in enumerate(files):
            data = await upload.read(limit + 1)  # never more than the limit (+1 to notice) in memory
            try:
                pictures.append(await run_in_threadpool(decode_upload, data, service.limits))
            except RequestError as exc:
                raise HTTPException(exc.status, f"picture {i + 1} ({_label(upload.filename)}): {exc}") from None
        try:
            job = await run_in_threadpool(jobs.start, name, pictures, service.names, style_loss, amount, gain,
                                          background.strip() or None, eyes.strip() or None, grey.strip() or None,
                                          [u.filename for u in files])
        except StyleConflict as exc:
            raise HTTPException(409, str(exc)) from None
        except StyleError as exc:
            raise HTTPException(400, str(exc)) from None
        response.headers["Location"] = f"/api/styles/{job.id}"
        return job.status()

    @app.get("/api/styles")
    def list_styles() -> dict:
        return {"jobs": [job.status() for job in list(jobs.jobs.values())]}

    @app.get("/api/styles/{job_id}")
    def style_status(job_id: str) -> dict:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no style job {job_id[:40]!r}")
        return job.status()

    @app.delete("/api/styles/{job_id}", status_code=202)
    def cancel_style(job_id: str) -> dict:
        """Stop a running job at its next step; poll it until its state is "cancelled"."""
        try:
            job = jobs.cancel(job_id)
        except StyleConflict as exc:
            raise HTTPException(409, str(exc)) from None
        if job is None:
            raise HTTPException(404, f"no style job {job_id[:40]!r}")
        return job.status()

    @app.get("/api/styles/{job_id}/preview.png", response_class=Response)
    def style_preview(job_id: str) -> Response:
        """PNG of the latest preview: the references' colours at once, then the model as it learns."""
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no style job {job_id[:40]!r}")
        image = job.preview
        if image is None:
            raise HTTPException(404, f"style job {job_id[:40]!r} has no preview yet")
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return Response(buf.getvalue(), media_type="image/png",
                        headers={"X-Artifygan-Step": str(job.preview_step), "Cache-Control": "no-store"})
