"""What the pages say in plain words (issue 23 items 7, 8 and 11): a note when the models see a
photo much smaller than it is, a config without weights said to run an untrained network (no
command-line syntax in the page), the sidebar's BAM fusion in words. AppTest, the demo pair."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

import models
from tests.app.conftest import assert_clean, open_app, upload_model

from detectron2.data.transforms import ResizeShortestEdge


def _page_text(at) -> str:
    """Every text of the page and its sidebar as a person reads it."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success")
             for e in getattr(at, kind)]
    parts += [e.value for e in at.sidebar.markdown] + [e.value for e in at.sidebar.caption]
    return "\n".join(str(p) for p in parts).replace("\\", "")


def test_a_photo_shrunk_for_the_models_is_said_so():
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (788, 940, 3), dtype=np.uint8)).save(buffer, "PNG")
    at = open_app()
    at.file_uploader(key="image_uploads").set_value(("photo.png", buffer.getvalue(), "image/png")).run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="image_choice").value == "photo.png"
    (note,) = [i.value for i in at.info if "sees it at" in i.value]
    cfg = at.session_state["_selection"].pair[0].cfg
    size = cfg.INPUT.MIN_SIZE_TEST
    seen_h, seen_w = ResizeShortestEdge.get_output_shape(788, 940, size, cfg.INPUT.MAX_SIZE_TEST)
    factor = 940 / seen_w
    # both demo models see it at the same size: said once, for both
    assert note.startswith(f"Each model sees it at {seen_w} × {seen_h} pixels ({factor:.1f}x smaller, its "
                           f"INPUT.MIN_SIZE_TEST {size})") and note.count("sees it at") == 1
    assert f"cracks thinner than {factor:.0f} pixels may not survive the resize" in note
    at.sidebar.selectbox(key="image_choice").set_value(at.sidebar.selectbox(key="image_choice").options[-1]).run()
    assert not [i for i in at.info if "sees it at" in i.value]  # a 320 px demo sample is seen as it is


def test_a_config_without_weights_is_said_to_run_an_untrained_network():
    config = (models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml").read_bytes()
    at = upload_model(open_app(), ("mine.yaml", config))
    assert_clean(at)
    (warning,) = [w.value for w in at.warning if "No weights given" in w.value]
    assert "No weights given for mine.yaml: random weights, so it runs as an untrained network and its detections " \
           "and maps mean nothing." in warning.replace("\\", "")
    assert "give its weights file (.pth or .pkl)" in warning
    assert "CONFIG.yaml" not in _page_text(at) and "WEIGHTS.pth" not in _page_text(at)


def test_the_sidebar_says_the_fusion_in_plain_words():
    at = open_app()
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "fusion product (channel and spatial attention multiplied, as in the authors' code)" in sidebar
    assert "sigmoid" not in sidebar and "Mc" not in sidebar
