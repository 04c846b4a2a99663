import pytest

from artifygan.config import apply_overrides, config_from_dict, dump_config, load_config


def test_yaml_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  lr_g: 0.001\n  batch_size: 4\nmodel:\n  generator: cartoongan\n")
    cfg = load_config(p, ["train.lr_g=1e-4", "train.betas=0.0,0.99", "data.hflip=false",
                          "data.photos=a,b", "model.generator_args.n_blocks=4"])
    assert cfg.train.lr_g == 1e-4 and cfg.train.batch_size == 4
    assert cfg.train.betas == (0.0, 0.99)
    assert cfg.data.hflip is False and cfg.data.photos == ["a", "b"]
    assert cfg.model.generator == "cartoongan" and cfg.model.generator_args == {"n_blocks": 4}


def test_round_trip_through_yaml(tmp_path):
    cfg = load_config(None, ["train.init_steps=3", "loss.gan=hinge"])
    p = tmp_path / "r.yaml"
    p.write_text(dump_config(cfg))
    assert load_config(p).to_dict() == cfg.to_dict()


@pytest.mark.parametrize("bad, err", [
    ("train.nope=1", KeyError), ("nope.x=1", KeyError), ("train.batch_size=abc", ValueError),
    ("data.hflip=maybe", ValueError), ("train.batch_size", ValueError),
])
def test_bad_overrides_name_the_key(bad, err):
    with pytest.raises(err, match=bad.split("=")[0].split(".")[-1] if "=" in bad else "section"):
        apply_overrides(config_from_dict({}), [bad])


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_overrides_apply_to_other_config_dataclasses_with_their_types():
    """The few-shot benchmark's --set goes through the same parser: numbers, variadic tuples, nested sections."""
    from artifygan.styles import AdaptConfig

    cfg = apply_overrides(AdaptConfig(), ["lr_d=1e-3", "style_layers=[mixed_1]", "diffaug.cutout=0.3",
                                          "discriminator_args.base_ch=8"])
    assert cfg.lr_d == 0.001 and isinstance(cfg.lr_d, float)  # YAML alone reads 1e-3 as a string
    assert cfg.style_layers == ("mixed_1",) and cfg.diffaug.cutout == 0.3
    assert cfg.discriminator_args["base_ch"] == 8
    assert apply_overrides(AdaptConfig(), ["style_layers=conv_4,mixed_1"]).style_layers == ("conv_4", "mixed_1")
    with pytest.raises(KeyError, match="unknown config key 'nope'"):
        apply_overrides(AdaptConfig(), ["nope=1"])
