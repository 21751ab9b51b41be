"""Bad input shows a clear error in the page, and the app keeps serving."""

from __future__ import annotations

import io

import pytest
import torch

import models
from app.server_paths import ENV as SERVER_PATHS_ENV
from tests.app.conftest import assert_clean, errors, main_images, open_app
from tests.app.conftest import upload_model as _use_uploaded_model
from tests.hostile import png_header_only


@pytest.mark.parametrize("name, data, expected", [
    ("truncated.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR garbage", "damaged or truncated"),
    ("empty.jpg", b"", "the file is empty"),
    ("notes.png", b"these are not pixels\n" * 20, "not an image this app reads"),
    ("bomb.png", png_header_only(60_000, 60_000, decodable=False), "decompression bomb"),
    ("huge.png", png_header_only(8_000, 8_000, decodable=False), "too large to analyse"),
], ids=["truncated", "empty", "not-an-image", "decompression-bomb", "too-many-pixels"])
def test_a_bad_image_upload_is_reported_and_the_page_keeps_working(name, data, expected):
    at = open_app()
    images_before = main_images(at)
    at.file_uploader(key="image_uploads").set_value((name, data, "image/png")).run()
    assert_clean(at)
    messages = [m for m in errors(at) if m.startswith(name)]
    assert messages and expected in messages[0], errors(at)
    assert at.sidebar.selectbox(key="image_choice").value != name  # still on a good image
    assert main_images(at) == images_before


def test_a_good_upload_among_bad_ones_becomes_the_analysed_image():
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (90, 120), dtype=np.uint8)).save(buffer, "PNG")
    at = open_app()
    at.file_uploader(key="image_uploads").set_value([("gray.png", buffer.getvalue(), "image/png"),
                                                     ("bad.png", b"nope", "image/png")]).run()
    assert_clean(at)
    assert len([m for m in errors(at) if m.startswith("bad.png")]) >= 1
    at.sidebar.selectbox(key="image_choice").set_value("gray.png").run()
    assert_clean(at)
    assert any("gray.png" in c.value and "120 × 90" in c.value for c in at.caption)


@pytest.mark.parametrize("config, expected", [
    (b"MODEL: [unclosed\n  x: {", "not valid YAML"),
    (b"MODEL:\n  NO_SUCH_KEY: 3\n", "not a detectron2 config we can use"),
    (b'_BASE_: "mask_rcnn_R_18_FPN.yaml"\nMODEL:\n  MASK_ON: False\n', "Mask R-CNN"),
], ids=["bad-yaml", "unknown-key", "not-mask-rcnn"])
def test_a_config_that_does_not_parse_or_fit_is_reported(config, expected):
    at = _use_uploaded_model(open_app(), ("mine.yaml", config))
    assert_clean(at)
    page_errors = [m for m in errors(at) if m.startswith("The model with attention is not loaded")]
    assert page_errors and expected in page_errors[0], errors(at)
    assert not at.metric  # the page stopped before drawing detections
    at.radio(key="with_source").set_value("Demo").run()  # and recovers
    assert_clean(at)
    assert not errors(at) and main_images(at) > 0


def test_weights_that_do_not_fit_the_config_are_reported(tmp_path):
    baseline, _ = models.load_model(models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml")
    buffer = io.BytesIO()
    torch.save({"model": baseline.state_dict()}, buffer)
    config = (models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml").read_bytes()  # its _BASE_ is a shipped config
    at = _use_uploaded_model(open_app(), ("bam.yaml", config), ("baseline.pth", buffer.getvalue()))
    assert_clean(at)
    (message,) = [m for m in errors(at) if m.startswith("The model with attention is not loaded")]
    assert "does not fit this model" in message and "attention" in message
    assert message.endswith("(Details in the sidebar.)")
    # the headline first; the tensors folded away in the sidebar, once
    (headline,) = [m for m in errors(at) if m.startswith("baseline.pth does not fit this model (")]
    assert "missing from the file" not in message + headline
    (details,) = [e for e in at.sidebar.expander if e.label == "Details"]
    assert "missing from the file: backbone.bottom_up.res2.attention." in details.code[0].value
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.code] + errors(at)
    assert sum("missing from the file" in text for text in shown) == 1


def test_uploaded_config_and_weights_load_and_are_described(tmp_path):
    torch.manual_seed(0)
    model, _ = models.load_model(models.CONFIG_DIR / "mask_rcnn_R_18_FPN_cbam.yaml")
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict()}, buffer)
    config = (models.CONFIG_DIR / "mask_rcnn_R_18_FPN_cbam.yaml").read_bytes()
    at = _use_uploaded_model(open_app(), ("cbam.yaml", config), ("my_cbam.pth", buffer.getvalue()))
    assert_clean(at)
    assert not errors(at)
    assert any("CBAM after res2, res3, res4" in c.value for c in at.sidebar.caption)
    assert any(m.value.endswith("my_cbam") for m in at.sidebar.markdown)


def test_a_missing_server_path_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv(SERVER_PATHS_ENV, str(tmp_path))
    at = open_app()
    at.radio(key="without_source").set_value("Server path").run()
    at.text_input(key="without_config_path").set_value(str(tmp_path / "model.yaml")).run()
    assert_clean(at)
    assert any("model.yaml: config file not found" in m for m in errors(at))


def test_choosing_to_upload_a_model_asks_for_its_files():
    at = open_app()
    at.radio(key="with_source").set_value("Upload").run()
    assert_clean(at)
    assert not errors(at)
    assert any("give a detectron2 config (YAML) and its weights" in i.value for i in at.info)
