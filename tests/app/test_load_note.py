"""What loading found reaches the front ends: the note of a model built with unnamed attention."""

import models
from app.model_choice import load, path_choice
from models.zoo import NAMED


def test_the_app_keeps_the_note_of_attention_the_config_does_not_name():
    weights = NAMED["demo-bam"].weights  # BAM weights, given with the baseline's config
    loaded = load(path_choice(models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml", weights))
    assert loaded.notes == ("BAM found in the weights after res2, res3, res4; the config names none: built with it",)
    assert loaded.has_attention and loaded.summary.title == "BAM"
    assert load(path_choice(models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml", weights)).notes == ()
