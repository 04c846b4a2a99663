"""ArtifyGAN: small, fast photo → cartoon GANs in the CartoonGAN family.

``Cartoonizer.from_pretrained(path)(image)`` is the Python entry point (``WildCartoonizer`` adds face
detection, alignment and paste-back for photos in the wild); ``artifygan`` the CLI.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # typed names for a user's type checker; at run time they load on first use (below)
    from .imageio import ImageError
    from .inference.cartoonizer import Cartoonizer
    from .inference.wild import WildCartoonizer, WildOptions
    from .styles import adapt


def __getattr__(name: str) -> Any:
    # Lazy so `import artifygan` (and the CLI's --help) does not pay for importing torch.
    if name == "Cartoonizer":
        from .inference.cartoonizer import Cartoonizer

        return Cartoonizer
    if name in ("WildCartoonizer", "WildOptions"):
        from .inference import wild

        return getattr(wild, name)
    if name == "ImageError":  # what a bad picture raises, from every entry point
        from .imageio import ImageError

        return ImageError
    if name == "adapt":  # few-shot styles: artifygan.adapt(refs, ...) -> Cartoonizer
        from .styles import adapt

        return adapt
    raise AttributeError(name)


__all__ = ["Cartoonizer", "ImageError", "WildCartoonizer", "WildOptions", "__version__", "adapt"]
