"""Every weights format a detectron2 user holds, each written here from a small model: detectron2's
checkpointer file, a model-zoo .pkl in detectron2 names (with and without matching heuristics), a
Caffe2 Detectron .pkl in the old names; and fine-tuning a model trained for other classes."""

import pickle
import re

import numpy as np
import pytest
import torch

import models
from models import CheckpointError, load_weights
from tests.conftest import config

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.solver import build_lr_scheduler, build_optimizer

BASELINE = models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml"
FROZEN_BN = ["MODEL.RESNETS.NORM", "FrozenBN"]  # as the Caffe2-era models: affine norms, no statistics


def _randomized(cfg, seed: int = 0):
    """A model built from `cfg` whose every weight (FrozenBN's scale and bias included) is random."""
    torch.manual_seed(seed)
    model = models.build_model(cfg)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if value.is_floating_point() and "running_" not in key:
                value.normal_(std=0.05)
    return model


def _assert_same_weights(source, target, *, skip=lambda key: False):
    expected = source.state_dict()
    compared = 0
    for key, value in target.state_dict().items():
        if key.endswith("num_batches_tracked") or skip(key):
            continue
        assert torch.equal(value, expected[key]), key
        compared += 1
    assert compared >= 50  # the ResNet-18 alone has 100


@pytest.fixture(scope="module")
def baseline():
    cfg = config("mask_rcnn_R_18_FPN")
    return _randomized(cfg), cfg


def test_a_checkpointer_file_with_optimizer_scheduler_and_iteration(tmp_path, baseline):
    source, cfg = baseline
    optimizer = build_optimizer(cfg, source)
    scheduler = build_lr_scheduler(cfg, optimizer)
    loss = sum(p.sum() for p in source.parameters())
    loss.backward()
    optimizer.step()  # momentum buffers in the optimizer's state
    scheduler.step()
    DetectionCheckpointer(source, str(tmp_path), optimizer=optimizer, scheduler=scheduler).save(
        "model_0000009", iteration=9)
    path = tmp_path / "model_0000009.pth"
    saved = torch.load(path, weights_only=True)
    assert {"model", "optimizer", "scheduler", "iteration"} <= set(saved)

    opened = models.load_model(BASELINE, path)
    _assert_same_weights(source, opened.model)


def _numpy(model) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_a_model_zoo_pkl_in_detectron2_names(tmp_path, baseline):
    source, _ = baseline
    path = tmp_path / "model_final_f10217.pkl"
    with path.open("wb") as f:
        pickle.dump({"model": _numpy(source), "__author__": "Detectron2 Model Zoo"}, f)
    _assert_same_weights(source, models.load_model(BASELINE, path).model)


def test_a_backbone_pkl_with_matching_heuristics_fills_the_resnet(tmp_path, baseline):
    """Like the backbones converted for detectron2 (tools/convert-torchvision-to-d2.py): short
    names ("res2.0.conv1.weight") that detectron2 matches to the model's by suffix."""
    source, cfg = baseline
    prefix = "backbone.bottom_up."
    short = {k[len(prefix):]: v.numpy() for k, v in source.state_dict().items() if k.startswith(prefix)}
    assert "res2.0.conv1.weight" in short
    path = tmp_path / "R-18.pkl"
    with path.open("wb") as f:
        pickle.dump({"model": short, "__author__": "torchvision", "matching_heuristics": True}, f)

    target = models.build_model(cfg)
    fit = load_weights(target, path, strict=False)
    assert fit.unexpected == [] and fit.skipped == []
    assert fit.missing and all(not k.startswith(prefix) for k in fit.missing)
    _assert_same_weights(source, target, skip=lambda key: not key.startswith(prefix))
    with pytest.raises(CheckpointError, match="missing from the file: backbone.fpn"):
        models.load_model(BASELINE, path)  # the app needs a whole model


def caffe2_names(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A ResNet-FPN Mask R-CNN's weights in Caffe2 Detectron's names and layout (the inverse of
    detectron2's convert_c2_detectron_names): AffineChannel norms (`_bn_s`, `_bn_b`, no running
    statistics), and the background class first in the class-specific heads."""
    last_block = {m[1]: m[2] for m in (re.match(r"backbone\.bottom_up\.(res\d)\.(\d+)\.", k) for k in state) if m}
    branch = {"conv1": "branch2a", "conv2": "branch2b", "conv3": "branch2c", "shortcut": "branch1"}
    plain = {"weight": "w", "bias": "b"}
    norm = {"weight": "bn_s", "bias": "bn_b"}
    renames = [
        (r"backbone\.bottom_up\.stem\.conv1\.(weight|bias)", lambda m: f"conv1_{plain[m[1]]}"),
        (r"backbone\.bottom_up\.stem\.conv1\.norm\.(weight|bias)", lambda m: f"res_conv1_{norm[m[1]]}"),
        (r"backbone\.bottom_up\.(res\d)\.(\d+)\.(\w+)\.(weight|bias)",
         lambda m: f"{m[1]}_{m[2]}_{branch[m[3]]}_{plain[m[4]]}"),
        (r"backbone\.bottom_up\.(res\d)\.(\d+)\.(\w+)\.norm\.(weight|bias)",
         lambda m: f"{m[1]}_{m[2]}_{branch[m[3]]}_{norm[m[4]]}"),
        (r"backbone\.fpn_lateral(\d)\.(weight|bias)",
         lambda m: f"fpn_inner_res{m[1]}_{last_block['res' + m[1]]}_sum_lateral_{plain[m[2]]}"),
        (r"backbone\.fpn_output(\d)\.(weight|bias)",
         lambda m: f"fpn_res{m[1]}_{last_block['res' + m[1]]}_sum_{plain[m[2]]}"),
        (r"proposal_generator\.rpn_head\.conv\.(weight|bias)", lambda m: f"conv_rpn_fpn2_{plain[m[1]]}"),
        (r"proposal_generator\.rpn_head\.objectness_logits\.(weight|bias)",
         lambda m: f"rpn_cls_logits_fpn2_{plain[m[1]]}"),
        (r"proposal_generator\.rpn_head\.anchor_deltas\.(weight|bias)", lambda m: f"rpn_bbox_pred_fpn2_{plain[m[1]]}"),
        (r"roi_heads\.box_head\.fc(\d)\.(weight|bias)", lambda m: f"fc{int(m[1]) + 5}_{plain[m[2]]}"),
        (r"roi_heads\.box_predictor\.(cls_score|bbox_pred)\.(weight|bias)", lambda m: f"{m[1]}_{plain[m[2]]}"),
        (r"roi_heads\.mask_head\.mask_fcn(\d)\.(weight|bias)", lambda m: f"_[mask]_fcn{m[1]}_{plain[m[2]]}"),
        (r"roi_heads\.mask_head\.deconv\.(weight|bias)", lambda m: f"conv5_mask_{plain[m[1]]}"),
        (r"roi_heads\.mask_head\.predictor\.(weight|bias)", lambda m: f"mask_fcn_logits_{plain[m[1]]}"),
    ]
    blobs = {}
    for key, value in state.items():
        if "running_" in key or key.endswith("num_batches_tracked"):
            continue
        name = next(rename(m) for pattern, rename in renames if (m := re.fullmatch(pattern, key)))
        if name.startswith("cls_score_"):  # Caffe2: background first; detectron2: last
            value = torch.cat([value[-1:], value[:-1]])
        elif name.startswith(("bbox_pred_", "mask_fcn_logits_")):  # Caffe2 also predicted the background
            rows = 4 if name.startswith("bbox_pred_") else 1
            value = torch.cat([torch.full((rows, *value.shape[1:]), 7.0), value])
        blobs[name] = value.numpy()
    return blobs


def test_a_caffe2_detectron_pkl_goes_through_detectron2s_name_conversion(tmp_path):
    cfg = config("mask_rcnn_R_18_FPN", *FROZEN_BN)
    source = _randomized(cfg, seed=3)
    blobs = caffe2_names(source.state_dict())
    assert {"conv1_w", "res_conv1_bn_s", "res2_0_branch2a_w", "res3_0_branch1_bn_b",
            "fpn_inner_res5_1_sum_lateral_w", "conv_rpn_fpn2_w", "fc6_w", "cls_score_w", "_[mask]_fcn1_w",
            "conv5_mask_w", "mask_fcn_logits_w"} <= set(blobs)
    blobs["res2_0_branch2a_w_momentum"] = np.zeros(1, np.float32)  # training state: dropped, as detectron2 does
    path = tmp_path / "model_final.pkl"
    with path.open("wb") as f:
        pickle.dump({"blobs": blobs, "cfg": "MODEL:\n  TYPE: generalized_rcnn\n"}, f, protocol=2)

    opened = models.load_model(BASELINE, path, FROZEN_BN)  # strict: every tensor of the model found
    _assert_same_weights(source, opened.model, skip=lambda key: "running_" in key)
    state = opened.model.state_dict()  # FrozenBN statistics: filled in by detectron2 (scale and bias hold them)
    assert torch.equal(state["backbone.bottom_up.res2.0.conv1.norm.running_var"], torch.ones(64))


def test_fine_tuning_skips_the_heads_of_other_classes(tmp_path, baseline):
    """A 2-class model's weights into a 1-class model: the class-specific heads are skipped."""
    source2 = _randomized(config("mask_rcnn_R_18_FPN", "MODEL.ROI_HEADS.NUM_CLASSES", "2"))
    path = models.save_weights(source2, tmp_path / "two_classes.pth", half=False)
    _, cfg = baseline
    target = models.build_model(cfg)
    before = {k: v.clone() for k, v in target.state_dict().items()}

    with pytest.raises(CheckpointError, match="wrong shapes: roi_heads.box_predictor"):
        load_weights(target, path, strict=False)  # without the option: an error, as before
    fit = load_weights(target, path, strict=False, skip_mismatched=True)
    heads = ["roi_heads.box_predictor.bbox_pred.bias", "roi_heads.box_predictor.bbox_pred.weight",
             "roi_heads.box_predictor.cls_score.bias", "roi_heads.box_predictor.cls_score.weight",
             "roi_heads.mask_head.predictor.bias", "roi_heads.mask_head.predictor.weight"]
    assert [entry.split(":")[0] for entry in fit.skipped] == heads
    assert "roi_heads.box_predictor.cls_score.weight: file (3, 256) vs model (2, 256)" in fit.skipped
    assert (fit.missing, fit.unexpected) == ([], [])
    state = target.state_dict()
    for key in heads:
        assert torch.equal(state[key], before[key]), key
    _assert_same_weights(source2, target, skip=lambda key: key in heads)
    with pytest.raises(ValueError, match="strict=False"):
        load_weights(target, path, skip_mismatched=True)
