"""The Cartoonizer's own arguments, checked in one line each before anything loads.

Why: in Python a string is truthy, so ``clean_strokes="off"`` (the CLI's word) turned a step on, and a
float pixel count (``tile=300.5``) failed deep inside torch or the tiler. The CLI's parser already bounds
its flags; these checks give the Python API the same one-line refusals.
"""

from __future__ import annotations

import numpy as np


def check_pixels(**numbers: int | None) -> None:
    """Whole, in range: max_side, tile_overlap, border ≥ 0; resize, tile ≥ 1; resize and batch_size may be
    None."""
    optional = {"resize", "batch_size"}
    for what, number in numbers.items():
        if not (what in optional and number is None) and (isinstance(number, bool) or not isinstance(number, int)):
            raise ValueError(f"{what}: a whole number of pixels{' or None' if what in optional else ''}, "
                             f"got {number!r}")
    given = ", ".join(f"{k}={v}" for k, v in numbers.items() if k != "batch_size")
    lowest = {"max_side": 0, "resize": 1, "tile": 1, "tile_overlap": 0, "border": 0}
    for what, low in lowest.items():
        number = numbers.get(what)
        if number is not None and number < low:
            raise ValueError(f"{what}: out of range ({given})")


def check_flags(optional: dict[str, object], required: dict[str, object]) -> None:
    """True or False (``optional`` ones may also be None: as the snapshot records)."""
    for flags, may_be_none in ((optional, True), (required, False)):
        for what, flag in flags.items():
            if not (may_be_none and flag is None) and not isinstance(flag, bool | np.bool_):
                raise ValueError(f"{what}: True or False{' (None: as the snapshot records)' if may_be_none else ''}, "
                                 f"got {flag!r}")


__all__ = ["check_flags", "check_pixels"]
