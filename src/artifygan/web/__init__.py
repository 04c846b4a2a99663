"""The web page and HTTP API (`artifygan serve`; needs the `web` extra: pip install 'artifygan[web]')."""
