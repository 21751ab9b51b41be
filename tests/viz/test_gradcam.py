"""CAMs through the grad-cam library on a detectron2 Mask R-CNN."""

import threading

import numpy as np
import pytest

from viz.capture import capture
from viz.gradcam import CAM_METHODS, instance_cam, randomize_heads, sanity_check

from tests.viz.conftest import hook_count

BOXES = np.array([[10, 30, 120, 60], [140, 80, 225, 145]], dtype=np.float32)


@pytest.fixture(scope="module")
def model_input(r18_bam, image):
    model, cfg = r18_bam
    return capture(model, cfg, image).model_input


@pytest.mark.parametrize("method", sorted(CAM_METHODS))
def test_cams_are_image_sized_normalised_and_instance_specific(r18_bam, model_input, method):
    model, _ = r18_bam
    first = instance_cam(model, model_input, BOXES[0], 0, method=method, layer="c4")
    second = instance_cam(model, model_input, BOXES[1], 0, method=method, layer="c4")
    for cam in (first, second):
        assert cam.shape == (150, 230) and cam.dtype == np.float32
        assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() <= 1
        assert cam.max() > 0.5  # not blank
    if method != "EigenCAM":  # EigenCAM uses no gradients, so it cannot depend on the target
        assert np.abs(first - second).mean() > 0.01
    assert hook_count(model) == 0
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("layer", ["c2", "c3_pre", "c5", "p3"])
def test_any_catalogued_layer_and_the_mask_target(r18_bam, model_input, layer):
    model, _ = r18_bam
    cam = instance_cam(model, model_input, BOXES[0], 0, layer=layer, target="mask")
    assert cam.shape == (150, 230) and np.isfinite(cam).all()


def test_bad_arguments_name_the_choices(r18_bam, model_input):
    model, _ = r18_bam
    with pytest.raises(ValueError, match="GradCAM"):
        instance_cam(model, model_input, BOXES[0], 0, method="MagicCAM")
    with pytest.raises(KeyError, match="c2_pre"):
        instance_cam(model, model_input, BOXES[0], 0, layer="res9")
    with pytest.raises(ValueError, match="p6"):
        instance_cam(model, model_input, BOXES[0], 0, layer="p6")


def test_sanity_check_separates_a_model_from_its_randomized_heads(r18_bam, model_input):
    model, _ = r18_bam
    same = instance_cam(model, model_input, BOXES[0], 0)
    again = instance_cam(model, model_input, BOXES[0], 0)
    np.testing.assert_allclose(same, again, atol=1e-6)  # deterministic: correlation with itself is 1
    check = sanity_check(model, model_input, BOXES[0], 0, original=same)
    assert not check.correlation > 0.9
    assert "randomized heads" in str(check)
    # Gradient-free EigenCAM only sees the backbone, which randomizing the heads leaves alone.
    eigen = sanity_check(model, model_input, BOXES[0], 0, method="EigenCAM")
    assert eigen.correlation > 0.99 and not eigen.passed


def test_randomize_heads_leaves_the_original_alone(r18_bam):
    model, _ = r18_bam
    before = {k: v.clone() for k, v in model.state_dict().items()}
    randomized = randomize_heads(model)
    after = model.state_dict()
    assert all((before[k] == after[k]).all() for k in before)
    changed = [k for k, v in randomized.state_dict().items() if not (v == before[k]).all()]
    assert changed and all(k.startswith("roi_heads.") for k in changed)


def test_cams_and_captures_from_several_threads(r18_bam, image, model_input):
    model, cfg = r18_bam
    expected_cam = instance_cam(model, model_input, BOXES[1], 0)
    expected_c3 = capture(model, cfg, image).features["c3"]
    errors, cams, c3s = [], [], []

    def cam_worker():
        try:
            cams.append(instance_cam(model, model_input, BOXES[1], 0))
        except Exception as e:
            errors.append(e)

    def capture_worker():
        try:
            c3s.append(capture(model, cfg, image).features["c3"])
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=f) for f in (cam_worker, capture_worker) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for cam in cams:
        np.testing.assert_allclose(cam, expected_cam, atol=1e-5)
    for c3 in c3s:
        np.testing.assert_array_equal(c3, expected_c3)
    assert hook_count(model) == 0
