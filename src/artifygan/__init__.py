"""ArtifyGAN: small, fast photo → cartoon GANs in the CartoonGAN family.

``Cartoonizer.from_pretrained(path)(image)`` is the Python entry point; ``artifygan`` the CLI.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy so `import artifygan` (and the CLI's --help) does not pay for importing torch.
    if name == "Cartoonizer":
        from .inference.cartoonizer import Cartoonizer

        return Cartoonizer
    raise AttributeError(name)


__all__ = ["Cartoonizer", "__version__"]
