"""The shipped presets must parse (typos in a preset would only show up in a user's long run)."""

from pathlib import Path

import pytest

from artifygan.config import load_config
from artifygan.models import CONTENT_NETWORKS, DISCRIMINATORS, GENERATORS

PRESETS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_parses_and_names_real_models(path):
    cfg = load_config(path)
    GENERATORS.make_config(cfg.model.generator, cfg.model.generator_args)
    DISCRIMINATORS.make_config(cfg.model.discriminator, cfg.model.discriminator_args)
    CONTENT_NETWORKS.make_config(cfg.model.content, cfg.model.content_args)
    if cfg.model.init:  # a fine-tuning preset must name a snapshot of its own generator
        from artifygan.training.checkpoint import warm_start

        root = Path(__file__).resolve().parents[1]
        G = GENERATORS.build(cfg.model.generator, cfg.model.generator_args)
        warm_start(G, root / cfg.model.init, cfg.model.generator, cfg.model.generator_args)


def test_presets_exist():
    assert {p.name for p in PRESETS} >= {"default.yaml", "cartoongan.yaml", "cpu_128.yaml"}
