"""Config loading: our node, and clear errors for configs that cannot work."""

import pytest

import models
from models import ConfigError


def test_attention_node_has_documented_defaults():
    cfg = models.default_config()
    att = cfg.MODEL.ATTENTION
    assert att.TYPE == "none" and list(att.STAGES) == ["res2", "res3", "res4"]
    assert att.REDUCTION == 16 and att.BAM.DILATION == 4 and att.BAM.FUSION == "product"
    models.add_attention_config(cfg)  # a second call changes nothing
    assert cfg.MODEL.ATTENTION.TYPE == "none"


def test_every_attention_key_is_commented():
    import inspect

    from models import config as config_module

    lines = inspect.getsource(config_module.add_attention_config).splitlines()
    for i, line in enumerate(lines):
        if "cfg.MODEL.ATTENTION." in line and "= CN()" not in line and "=" in line:
            assert lines[i - 1].strip().startswith("#"), line


def test_describe_says_what_the_model_has():
    summary = models.describe(models.get_config(models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"))
    assert str(summary).startswith("ResNet-18-FPN, BAM after res2, res3, res4, fusion product")
    assert "baseline" in str(models.describe(models.get_config(models.CONFIG_DIR / "mask_rcnn_R_50_FPN.yaml")))


@pytest.mark.parametrize("text, words", [
    ("MODEL: [unclosed", "not valid YAML"),
    ("MODEL:\n  NOT_A_KEY: 3\n", "NOT_A_KEY"),
    ("MODEL:\n  ATTENTION:\n    TYPE: se\n", "'se'"),
    ("MODEL:\n  ATTENTION:\n    TYPE: bam\n    BAM:\n      FUSION: mean\n", "MODEL.ATTENTION.BAM.FUSION is 'mean'"),
    ("MODEL:\n  MASK_ON: False\n", "Mask R-CNN"),
])
def test_bad_configs_give_a_clear_message(tmp_path, text, words):
    path = tmp_path / "user.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="user.yaml") as e:
        models.get_config(path)
    assert words in str(e.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        models.get_config(tmp_path / "nope.yaml")


def test_a_fusion_is_checked_only_for_the_type_that_has_it(tmp_path):
    """BAM's fusion key is BAM's (its registry entry names it): a CBAM config does not read it."""
    path = tmp_path / "cbam.yaml"
    path.write_text("MODEL:\n  MASK_ON: True\n  ATTENTION:\n    TYPE: cbam\n    BAM:\n      FUSION: mean\n")
    assert models.get_config(path).MODEL.ATTENTION.TYPE == "cbam"
