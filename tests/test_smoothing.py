import numpy as np
import pytest

from artifygan.data.smoothing import edge_mask, edge_smooth


def _cartoon():
    img = np.full((64, 64, 3), 230, np.uint8)
    img[16:48, 16:48] = (200, 30, 30)  # a flat red square with hard edges
    img[30:34, :] = (10, 10, 10)  # a dark line
    return img


def test_changes_only_edge_regions():
    img = _cartoon()
    out = edge_smooth(img, kernel_size=5)
    mask = edge_mask(img, kernel_size=5)
    changed = (out != img).any(-1)
    assert changed.any(), "edges must get blurred"
    assert not (changed & ~mask).any(), "pixels away from edges must stay untouched"
    assert mask.mean() < 0.6
    # the flat interior of the square is untouched
    assert (out[20:26, 20:26] == img[20:26, 20:26]).all()


def test_flat_image_is_unchanged_and_input_not_modified():
    flat = np.full((32, 32, 3), 128, np.uint8)
    assert (edge_smooth(flat) == flat).all()
    img = _cartoon()
    before = img.copy()
    edge_smooth(img)
    assert (img == before).all()


def test_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        edge_smooth(np.zeros((8, 8, 3), np.float32))
