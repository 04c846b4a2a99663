"""`artifygan serve`: the web page (Gradio) and HTTP API on one port."""

from __future__ import annotations

import argparse
import os

from .common import NON_NEGATIVE, bounded, check_yunet_file, named_models


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="web page + HTTP API (needs: pip install 'artifygan[web]')",
                       description="Serve a Gradio page (upload/webcam, model picker, before/after slider, "
                                   "a 'New style' panel) and an HTTP API: POST /api/cartoonize; POST /api/styles "
                                   "(1-10 pictures + a name: learns a style in a background job), "
                                   "GET /api/styles[/JOB]. Local only unless --host 0.0.0.0.")
    p.add_argument("-m", "--model", action="append", metavar="[NAME=]PATH",
                   help="a model to offer (repeatable); default: the bundled model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=bounded(int, 0, 65535), default=7860)
    p.add_argument("--device", default="auto")
    p.add_argument("--max-upload-mb", type=bounded(float, 0.001), default=20.0)
    p.add_argument("--max-pixels", type=bounded(float, 1), default=24e6, help="largest image accepted, in pixels")
    p.add_argument("--max-side", type=NON_NEGATIVE, default=1536, help="the net sees at most this many pixels per side")
    p.add_argument("--yunet", help="YuNet face detector .onnx (default: $ARTIFYGAN_YUNET, cache, download)")
    p.add_argument("--styles-dir", help="where styles learned on the page or with POST /api/styles are written "
                                        "and, after a restart, served again from (default: $ARTIFYGAN_STYLES_DIR; "
                                        "without either, a temporary folder: they last as long as the server)")
    p.set_defaults(func=run)


def parse_models(specs: list[str] | None) -> dict[str, str | None]:
    """``-m`` values → {name: path} (:func:`named_models`); none → the bundled default."""
    return {"default": None} if not specs else dict(named_models(specs))


def run(args: argparse.Namespace) -> int:
    try:
        from ..web.app import serve
    except ImportError as exc:
        raise ValueError(f"artifygan serve needs the web extra: pip install 'artifygan[web]' ({exc})") from None
    from ..faces import YUNET_ENV
    from ..web.service import Limits, Service

    env = os.environ.get(YUNET_ENV)
    # one line now, not a 500 at each face-mode request; a missing detector that was not named on the
    # command line leaves face mode refused (400) and whole mode working
    check_yunet_file(args.yunet or (env if env and os.path.isfile(env) else None))

    service = Service(parse_models(args.model), Limits(args.max_upload_mb, int(args.max_pixels), args.max_side),
                      device=args.device, yunet=args.yunet)
    for name in service.names:  # every -m model loaded once, now: a broken one fails naming its file
        service.load(name)
    serve(service, args.host, args.port, styles_dir=args.styles_dir)
    return 0
