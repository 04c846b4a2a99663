"""loss.crack_negatives: cartoons with strokes on their flat regions as negatives for the discriminator."""

import json

import pytest
import torch

from artifygan.config import load_config, validate_config
from artifygan.training.checkpoint import microbatch_seed
from artifygan.training.cracks import crack, flat_mask, stroke_mask, tone_border_mask
from artifygan.training.loop import train

from .conftest import tiny_config


def _half_flat(n: int = 3, size: int = 64) -> torch.Tensor:
    """Left half flat skin-like grey, right half strong noise."""
    g = torch.Generator().manual_seed(1)
    x = torch.full((n, 3, size, size), 0.6)
    x[..., size // 2:] = torch.rand(n, 3, size, size // 2, generator=g) * 2 - 1
    return x


def test_flat_mask_finds_flat_regions_only():
    m = flat_mask(_half_flat())
    assert m[..., :, :28].min() == 1  # the flat half (away from the border between the halves)
    assert m[..., :, 36:].max() == 0  # the noise


def test_strokes_are_thin_curves_of_bounded_length():
    m = stroke_mask(4, 128, 128, torch.Generator().manual_seed(0), strokes=1)
    for i in range(4):
        drawn = (m[i, 0] > 0.5).sum().item()
        assert 3 <= drawn <= 60  # one stroke of 6–24 pixels (clipped at the border), one pixel wide
    assert m.max() <= 1 and m.min() >= 0


@pytest.mark.parametrize("shape", ["strokes", "tone"])
def test_crack_darkens_flat_pixels_only_and_is_reproducible(shape):
    x = _half_flat()
    y = crack(x, torch.Generator().manual_seed(3), shape)
    diff = (y - x) * 127.5  # grey levels
    assert diff.max() <= 1e-4  # only darker
    assert diff[..., 36:].abs().max() < 1e-4  # nothing on the textured half
    assert (diff[..., :28] < -20).any(dim=(1, 2, 3)).all()  # each picture has strokes ≥ 20 levels darker
    assert torch.equal(y, crack(x, torch.Generator().manual_seed(3), shape))
    assert not torch.equal(y, crack(x, torch.Generator().manual_seed(4), shape))


def test_tone_borders_are_long_thin_curves_between_levels():
    # a flat picture: the borders come from the random shading field alone, 2–4 levels of it
    m = tone_border_mask(torch.zeros(4, 3, 128, 128), torch.Generator().manual_seed(0))
    assert m.min() >= 0 and m.max() <= 1
    drawn = (m[:, 0] > 0.5).flatten(1).sum(1)
    assert (drawn >= 64).all() and (drawn <= 0.2 * 128 * 128).all()  # curves across the picture, not areas
    # a brightness ramp with no random field would give straight borders: the field bends them
    ramp = torch.linspace(-1, 1, 128).view(1, 1, 1, 128).expand(2, 3, 128, 128)
    rows = (tone_border_mask(ramp, torch.Generator().manual_seed(1))[:, 0] > 0.5).float().argmax(-1)
    assert rows.float().std() > 1  # the first border's column moves from row to row


def test_crack_shape_is_checked():
    with pytest.raises(ValueError, match="crack shape"):
        crack(_half_flat(), torch.Generator(), "zigzag")
    with pytest.raises(ValueError, match="loss.crack_shape"):
        validate_config(load_config(None, ["loss.crack_shape=zigzag"]))


def test_microbatch_seeds_differ_by_rank_and_keep_the_single_device_stream():
    assert microbatch_seed(7, 12, 1) == 7 * 7919 + 12 * 31 + 1  # what one device always drew
    seeds = {microbatch_seed(7, step, micro, rank, 4) for step in range(50) for micro in range(4) for rank in range(4)}
    assert len(seeds) == 50 * 4 * 4  # every step, micro-batch and data-parallel rank its own cracks
    assert microbatch_seed(7, 12, 1, accum=31) == microbatch_seed(7, 12, 1)  # up to 31 micro-batches: the old stream
    many = [microbatch_seed(7, step, micro, accum=40) for step in range(20) for micro in range(40)]
    assert len(set(many)) == len(many)  # more micro-batches than 31: still no two alike


def test_crack_negatives_enter_the_discriminator_loss_and_resume_the_same(tiny_data, tmp_path):
    def run(root, weight, stop=None, resume=None):
        cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=3", "train.log_every=1",
                          f"loss.crack_negatives={weight}")
        return train(cfg, run_root=root, progress=False, stop_at_step=stop, resume=resume)

    def loss_d(run_dir):
        rows = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
        return {r["step"]: r["loss_d"] for r in rows if "loss_d" in r}

    off, on = loss_d(run(tmp_path / "off", 0.0)), loss_d(run(tmp_path / "on", 1.0))
    assert set(on) == set(off) and len(on) == 3
    assert all(on[s] > off[s] for s in on)  # a further fake term (LSGAN: ≥ 0) in the same step
    stopped = run(tmp_path / "resumed", 1.0, stop=2)
    resumed = loss_d(run(tmp_path / "resumed", 1.0, resume=stopped))
    assert abs(resumed[4] - on[4]) < 1e-5  # the strokes drawn after a resume are those of the straight run
