"""Models shipped inside the package (config.json + model.safetensors per folder)."""

from __future__ import annotations

from pathlib import Path

PRETRAINED_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = PRETRAINED_DIR / "default"
EXAMPLES_DIR = PRETRAINED_DIR.parent / "examples"


def default_model() -> Path | None:
    """The bundled default snapshot, or None in a checkout that does not have one."""
    return DEFAULT_MODEL if (DEFAULT_MODEL / "config.json").is_file() else None


def example_photos() -> list[Path]:
    """Redistributable example photos shipped with the package (see examples/README.md)."""
    return sorted(p for p in EXAMPLES_DIR.glob("*.jpg"))
