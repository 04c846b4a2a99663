"""The web page and HTTP API (`artifygan serve`; needs the `web` extra: pip install 'artifygan[web]')."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: offline-safe
