"""CAMs through the grad-cam library on a detectron2 Mask R-CNN."""

import threading

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM

from models.inputs import prepare_input
from tests.viz.conftest import hook_count
from viz.capture import capture
from viz.catalogue import get_layer, layer_catalogue
from viz.gradcam import (
    CAM_METHODS,
    PERTURBATION_METHODS,
    CamRequest,
    DetectionCamModel,
    InstanceScoreTarget,
    SanityCheck,
    cam_faithfulness,
    instance_cam,
    randomize_heads,
    sanity_check,
)
from viz.hooks import scoped_forward_hooks

from detectron2.structures import Boxes

BOXES = np.array([[10, 30, 120, 60], [140, 80, 225, 145]], dtype=np.float32)


@pytest.fixture(scope="module")
def model_input(r18_bam, image):
    model, cfg = r18_bam
    return capture(model, cfg, image).model_input


@pytest.mark.parametrize("method", sorted(set(CAM_METHODS) - set(PERTURBATION_METHODS)))
def test_cams_are_image_sized_normalised_and_instance_specific(r18_bam, model_input, method):
    model, _ = r18_bam
    first = instance_cam(model, model_input, CamRequest(BOXES[0], 0, method=method, layer="c4"))
    second = instance_cam(model, model_input, CamRequest(BOXES[1], 0, method=method, layer="c4"))
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
    cam = instance_cam(model, model_input, CamRequest(BOXES[0], 0, layer=layer, target="mask"))
    assert cam.shape == (150, 230) and np.isfinite(cam).all()


def test_bad_arguments_name_the_choices(r18_bam, model_input):
    model, _ = r18_bam
    with pytest.raises(ValueError, match="GradCAM"):
        instance_cam(model, model_input, CamRequest(BOXES[0], 0, method="MagicCAM"))
    with pytest.raises(KeyError, match="c2_pre"):
        instance_cam(model, model_input, CamRequest(BOXES[0], 0, layer="res9"))
    with pytest.raises(ValueError, match="p6"):
        instance_cam(model, model_input, CamRequest(BOXES[0], 0, layer="p6"))


def test_sanity_check_separates_a_model_from_its_randomized_heads(r18_bam, model_input):
    model, _ = r18_bam
    same = instance_cam(model, model_input, CamRequest(BOXES[0], 0))
    again = instance_cam(model, model_input, CamRequest(BOXES[0], 0))
    np.testing.assert_allclose(same, again, atol=1e-6)  # deterministic: correlation with itself is 1
    check = sanity_check(model, model_input, CamRequest(BOXES[0], 0), original=same)
    assert not check.correlation > 0.9
    assert "randomized heads" in str(check)
    # Gradient-free EigenCAM only sees the backbone, which randomizing the heads leaves alone.
    eigen = sanity_check(model, model_input, CamRequest(BOXES[0], 0, method="EigenCAM"))
    assert eigen.correlation > 0.99 and not eigen.passed


def test_a_flat_cam_of_the_model_itself_does_not_pass_the_sanity_check():
    flat, varied = np.zeros((20, 20), np.float32), np.random.default_rng(0).random((20, 20)).astype(np.float32)
    check = SanityCheck(correlation=float("nan"), original=flat, randomized=varied)
    assert not check.passed and "explains nothing" in str(check)
    vanished = SanityCheck(correlation=float("nan"), original=varied, randomized=flat)
    assert vanished.passed  # the explanation vanished with the heads: that is the pass
    assert not SanityCheck(0.9, varied, varied).passed and SanityCheck(0.1, varied, flat + 1e-3).passed


@pytest.mark.parametrize("option", ["aug_smooth", "eigen_smooth"])
def test_smoothing_options_change_the_cam_and_keep_its_form(r18_bam, model_input, option):
    model, _ = r18_bam
    plain = instance_cam(model, model_input, CamRequest(BOXES[0], 0, layer="c4"))
    smoothed = instance_cam(model, model_input, CamRequest(BOXES[0], 0, layer="c4", **{option: True}))
    assert smoothed.shape == plain.shape and smoothed.dtype == np.float32
    assert np.isfinite(smoothed).all() and 0 <= smoothed.min() and smoothed.max() <= 1
    assert np.abs(smoothed - plain).mean() > 1e-3
    if option == "aug_smooth":  # brightness only: the explained box stays where it is
        assert np.corrcoef(smoothed.ravel(), plain.ravel())[0, 1] > 0.5


def test_eigen_smooth_is_ignored_by_a_method_that_is_a_projection_already(r18_bam, model_input):
    model, _ = r18_bam
    plain = instance_cam(model, model_input, CamRequest(BOXES[0], 0, method="EigenCAM"))
    request = CamRequest(BOXES[0], 0, method="EigenCAM", eigen_smooth=True)
    assert not request.eigen_smooth  # the request keeps only what changes something
    np.testing.assert_allclose(instance_cam(model, model_input, request), plain, atol=1e-6)


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
    expected_cam = instance_cam(model, model_input, CamRequest(BOXES[1], 0))
    expected_c3 = capture(model, cfg, image).features["c3"]
    errors, cams, c3s = [], [], []

    def cam_worker():
        try:
            cams.append(instance_cam(model, model_input, CamRequest(BOXES[1], 0)))
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


# --- batches, the perturbation methods, the floor and the faithfulness metrics -----------------------


@pytest.fixture(scope="module")
def tiny_input(r18_bam, image):
    """The test image at a 48-px input: ScoreCAM and AblationCAM make a forward pass per channel."""
    _, cfg = r18_bam
    small = cfg.clone()
    small.defrost()
    small.INPUT.MIN_SIZE_TEST, small.INPUT.MAX_SIZE_TEST = 48, 80
    return prepare_input(image, small)


def test_a_batch_of_identical_inputs_scores_as_one(r18_bam, model_input):
    model, _ = r18_bam
    info = get_layer(layer_catalogue(model), "c4")
    adapter = DetectionCamModel(model, model_input.to_input_coords(BOXES), info)
    x = model_input.image[None]
    with torch.no_grad():
        one, two = adapter(x), adapter(x.repeat(2, 1, 1, 1))
    assert len(one) == 1 and len(two) == 2
    for out in two:
        assert out["class_logits"].shape == one[0]["class_logits"].shape == (2, 2)
        for key in ("class_logits", "mask_logits"):
            torch.testing.assert_close(out[key], one[0][key], atol=1e-4, rtol=1e-4)
    # Through the library: a batch of two gives each image the CAM of the single image.
    rows, cols = model_input.valid_size(info.stride)
    with GradCAM(model=adapter, target_layers=[adapter.tap], reshape_transform=lambda t: t[..., :rows, :cols]) as cam:
        single = cam(x, targets=[InstanceScoreTarget(0, 0)])
        pair = cam(x.repeat(2, 1, 1, 1), targets=[InstanceScoreTarget(0, 0), InstanceScoreTarget(1, 0)])
    np.testing.assert_allclose(pair[0], single[0], atol=1e-4)
    assert np.abs(pair[1] - pair[0]).mean() > 0.01  # the second image's target is the other box
    model.zero_grad(set_to_none=True)
    assert hook_count(model) == 0


@pytest.mark.parametrize("method", PERTURBATION_METHODS)
def test_perturbation_methods_on_a_tiny_input(r18_bam, tiny_input, method):
    model, _ = r18_bam
    # c2 (64 channels: 64 forward passes); the mask target, whose sign AblationCAM's division by
    # the unperturbed score keeps for both boxes of this untrained model
    cams = [instance_cam(model, tiny_input, CamRequest(box, 0, method=method, layer="c2", target="mask"))
            for box in BOXES]
    for cam in cams:
        assert cam.shape == (150, 230) and cam.dtype == np.float32 and np.isfinite(cam).all()
        assert cam.max() > 0.5 and cam.std() > 0.01  # normalised, with structure
    assert np.abs(cams[0] - cams[1]).mean() > 0.01  # each is about its own box
    assert hook_count(model) == 0
    assert [n for n, _ in model.named_children()] == ["backbone", "proposal_generator", "roi_heads"]


def test_random_cam_is_the_floor(r18_bam, tiny_input):
    model, _ = r18_bam
    def random_cam(box, seed):
        return instance_cam(model, tiny_input, CamRequest(box, 0, method="RandomCAM", seed=seed))

    first = random_cam(BOXES[0], 3)
    # Random channel weights: the same draw gives the same map whatever the target...
    np.testing.assert_array_equal(random_cam(BOXES[1], 3), first)
    assert np.abs(random_cam(BOXES[0], 4) - first).mean() > 0.01
    # ... and whatever the heads learned: it fails the sanity check.
    check = sanity_check(model, tiny_input, CamRequest(BOXES[0], 0, method="RandomCAM", seed=3), original=first)
    assert check.correlation > 0.99 and not check.passed
    state = np.random.get_state()[1].copy()
    instance_cam(model, tiny_input, CamRequest(BOXES[0], 0, method="RandomCAM", seed=5))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the global generator is left as it was


@pytest.fixture(scope="module")
def demo_detection():
    """The shipped BAM demo model, a gallery crack at a 96-px input and its best detection:
    (model, model input, box, class)."""
    import models
    from demo.dataset import SAMPLES_DIR
    from models.zoo import resolve

    from detectron2.data.detection_utils import read_image

    named = resolve("demo-bam")
    model, cfg = models.load_model(named.config, named.weights)
    cfg = cfg.clone()
    cfg.defrost()
    cfg.INPUT.MIN_SIZE_TEST = cfg.INPUT.MAX_SIZE_TEST = 96
    cap = capture(model, cfg, read_image(str(SAMPLES_DIR / "000001.png"), format="RGB"))
    assert len(cap.instances), "the demo model finds the gallery crack"
    return model, cap.model_input, cap.instances.pred_boxes.tensor[0].numpy(), int(cap.instances.pred_classes[0])


def test_faithfulness_metrics_known_answers(r18_bam, tiny_input, demo_detection):
    model, _ = r18_bam
    keep_all = np.ones((150, 230), np.float32)  # the image times 1: nothing changes
    assert cam_faithfulness(model, tiny_input, CamRequest(BOXES[0], 0), keep_all, metrics=[
        "confidence_change", "drop_in_confidence", "increase_in_confidence"]) == {
        "confidence_change": 0.0, "drop_in_confidence": 0.0, "increase_in_confidence": 0.0}
    with pytest.raises(ValueError, match="road"):
        cam_faithfulness(model, tiny_input, CamRequest(BOXES[0], 0), keep_all, metrics=["accuracy"])

    model, model_input, box, class_id = demo_detection
    request = CamRequest(box, class_id)
    cam = instance_cam(model, model_input, request)
    found = cam_faithfulness(model, model_input, request, cam)
    assert set(found) == {"confidence_change", "drop_in_confidence", "increase_in_confidence", "road"}
    assert found["drop_in_confidence"] == max(0.0, -found["confidence_change"])
    assert found["increase_in_confidence"] == float(found["confidence_change"] > 0)
    # ROAD removes the most relevant pixels of a CAM where it removes the least relevant of its
    # inverse: the two scores are opposite (up to the imputation's noise).
    inverse = cam_faithfulness(model, model_input, request, 1 - cam, metrics=["road"])["road"]
    assert abs(found["road"]) > 0.01 and inverse == pytest.approx(-found["road"], abs=1e-3)
    assert cam_faithfulness(model, model_input, request, cam, metrics=["road"])["road"] == found["road"]  # seeded
    assert hook_count(model) == 0


@pytest.mark.parametrize("layer", ["c4", "c3_pre", "p2"])
def test_the_gradient_at_the_tap_is_that_of_a_backward_through_the_whole_model(r18_bam, model_input, layer):
    model, _ = r18_bam
    info = get_layer(layer_catalogue(model), layer)
    adapter = DetectionCamModel(model, model_input.to_input_coords(BOXES), info)
    x = model_input.image[None]
    at_tap = []

    def on_tap(module, inputs, output):  # as grad-cam takes it: a hook on the tap's output
        output.register_hook(at_tap.append)

    handle = adapter.tap.register_forward_hook(on_tap)
    try:
        adapter(x)[0]["class_logits"][1, 0].backward()
    finally:
        handle.remove()
    assert all(p.grad is None for p in model.parameters())  # no parameter's gradient computed
    # The reference: the model run from the image with a graph, the gradient at the layer's output.
    kept = {}
    with scoped_forward_hooks(model, {info.module: lambda inputs, output: kept.setdefault("output", output)}):
        features = model.backbone(model.preprocess_image(model_input.batch()).tensor)
    heads, boxes = model.roi_heads, [Boxes(torch.as_tensor(model_input.to_input_coords(BOXES)))]
    logits, _ = heads.box_predictor(heads.box_head(heads.box_pooler([features[f] for f in heads.box_in_features],
                                                                     boxes)))
    (expected,) = torch.autograd.grad(logits[1, 0], [kept["output"]])
    assert expected.abs().max() > 0
    torch.testing.assert_close(at_tap[0], expected, rtol=1e-4, atol=1e-6)
