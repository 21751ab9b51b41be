"""CAMs that start from a capture's kept stage outputs: the same maps as from the image up, for less."""

import numpy as np
import pytest
import torch

import models
from tests.conftest import config
from tests.viz.conftest import hook_count
from viz.capture import capture
from viz.gradcam import PERTURBATION_METHODS, CamRequest, instance_cam, randomize_heads
from viz.hooks import scoped_forward_hooks
from viz.stage_outputs import resume_backbone

BOX = np.array([10, 30, 120, 60], dtype=np.float32)
SIZE = ("INPUT.MIN_SIZE_TEST", "128", "INPUT.MAX_SIZE_TEST", "200")
CONFIGS = {"bam": ("mask_rcnn_R_18_FPN_bam",), "baseline": ("mask_rcnn_R_18_FPN",),
           "cbam": ("mask_rcnn_R_18_FPN_cbam",),
           "cbam in every block": ("mask_rcnn_R_18_FPN_cbam", "MODEL.ATTENTION.PLACEMENT", "block")}


@pytest.fixture(scope="module", params=list(CONFIGS))
def captured(request, image):
    """(model, capture of the test image) for each config of CONFIGS."""
    name, *opts = CONFIGS[request.param]
    torch.manual_seed(0)
    cfg = config(name, *SIZE, *opts)
    model = models.build_model(cfg)
    return model, capture(model, cfg, image)


def stage_runs(model, body) -> dict[str, int]:
    """How often each ResNet stage ran during body()."""
    runs = {name: 0 for name in ("res2", "res3", "res4", "res5")}

    def count(name):
        def hook(inputs, output):
            runs[name] += 1
        return hook

    with scoped_forward_hooks(model, {f"backbone.bottom_up.{name}": count(name) for name in runs}):
        body()
    return runs


@pytest.mark.parametrize("layer", ["c3", "c4", "c5", "c3_pre", "p2"])
@pytest.mark.parametrize("target", ["score", "mask"])
def test_a_cam_from_the_kept_outputs_is_the_full_one(captured, layer, target):
    model, cap = captured
    if layer == "c3_pre" and "c3_pre" not in cap.strides:
        pytest.skip("the baseline has no attention")
    spread = []
    # GradCAM, and LayerCAM, whose element-wise weights leave a map where an untrained model's
    # GradCAM weights are all negative (a flat map would compare equal whatever the gradients)
    for method in ("GradCAM", "LayerCAM"):
        request = CamRequest(BOX, 0, method=method, layer=layer, target=target)
        full = instance_cam(model, cap.model_input, request)
        resumed = instance_cam(model, cap.model_input, request, kept=cap.stage_outputs)
        np.testing.assert_allclose(resumed, full, atol=1e-5)
        spread.append(full.std())
    assert max(spread) > 0.01  # something in the maps
    assert hook_count(model) == 0
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("layer, runs", [
    ("c4", {"res2": 0, "res3": 0, "res4": 0, "res5": 1}),
    ("c3_pre", {"res2": 0, "res3": 1, "res4": 1, "res5": 1}),  # its own stage runs again from c2
    ("p4", {"res2": 0, "res3": 0, "res4": 0, "res5": 0}),
])
def test_the_layers_below_the_target_do_not_run_again(r18_bam, image, layer, runs):
    model, cfg = r18_bam
    cap = capture(model, cfg, image)
    request = CamRequest(BOX, 0, layer=layer)
    assert stage_runs(model, lambda: instance_cam(model, cap.model_input, request, kept=cap.stage_outputs)) == runs
    assert stage_runs(model, lambda: instance_cam(model, cap.model_input, request)) == dict.fromkeys(runs, 1)


def test_other_inputs_and_other_models_run_in_full(r18_bam, image):
    model, cfg = r18_bam
    cap = capture(model, cfg, image)
    # aug_smooth sends three brightness-scaled copies: only the unscaled one may start from c4.
    smoothed = CamRequest(BOX, 0, layer="c4", aug_smooth=True)
    runs = stage_runs(model, lambda: instance_cam(model, cap.model_input, smoothed, kept=cap.stage_outputs))
    assert runs["res2"] == 2 and runs["res5"] == 3
    np.testing.assert_allclose(instance_cam(model, cap.model_input, smoothed, kept=cap.stage_outputs),
                               instance_cam(model, cap.model_input, smoothed), atol=1e-5)
    # Another model given this model's outputs: its own backbone runs.
    other = randomize_heads(model, seed=1)
    with torch.no_grad():
        for p in other.backbone.bottom_up.res2.parameters():
            p.mul_(0.5)
    request = CamRequest(BOX, 0)
    assert stage_runs(other, lambda: instance_cam(other, cap.model_input, request, kept=cap.stage_outputs))["res2"] == 1
    np.testing.assert_allclose(instance_cam(other, cap.model_input, request, kept=cap.stage_outputs),
                               instance_cam(other, cap.model_input, request), atol=1e-5)


@pytest.mark.parametrize("method", PERTURBATION_METHODS)
def test_perturbation_methods_are_unchanged(r18_bam, image, method):
    model, cfg = r18_bam
    small = cfg.clone()
    small.defrost()
    small.INPUT.MIN_SIZE_TEST, small.INPUT.MAX_SIZE_TEST = 48, 80  # a forward pass per channel of c2
    cap = capture(model, small, image)
    request = CamRequest(BOX, 0, method=method, layer="c2", target="mask")
    np.testing.assert_allclose(instance_cam(model, cap.model_input, request, kept=cap.stage_outputs),
                               instance_cam(model, cap.model_input, request), atol=1e-5)


def test_the_fpn_from_kept_outputs_is_detectron2s(r18_bam, image):
    model, cfg = r18_bam
    cap = capture(model, cfg, image)
    with torch.no_grad():
        expected = model.backbone(model.preprocess_image(cap.model_input.batch()).tensor)
        resumed = resume_backbone(model, cap.stage_outputs, "backbone.fpn_output3", lambda t: t)
    assert list(resumed) == list(expected) == ["p2", "p3", "p4", "p5", "p6"]
    for level, features in expected.items():
        torch.testing.assert_close(resumed[level], features, rtol=0, atol=0)


def test_kept_outputs_cost_no_memory_beside_the_features(r18_bam, image):
    model, cfg = r18_bam
    cap = capture(model, cfg, image)
    for stage in ("c2", "c3", "c4", "c5"):
        kept = cap.stage_outputs.outputs["res" + stage[1:]]
        rows, cols = cap.features[stage].shape[-2:]
        assert np.shares_memory(cap.features[stage], kept.numpy())
        np.testing.assert_array_equal(kept[0, :, :rows, :cols].numpy(), cap.features[stage])
    assert cap.stage_outputs.outputs["res2"].shape[-1] > cap.features["c2"].shape[-1]  # padded: kept in full
