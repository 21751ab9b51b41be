"""The attention backbones inside detectron2: placement, baseline equality, freezing, configs."""

import pytest
import torch

import models
from tests.conftest import config

from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone
from detectron2.modeling.backbone.fpn import build_resnet_fpn_backbone
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

CONFIGS = sorted(p.stem for p in models.CONFIG_DIR.glob("mask_rcnn_*.yaml"))


def test_there_are_configs_for_r18_and_r50_with_and_without_attention():
    for depth in ("18", "50"):
        for suffix in ("", "_bam", "_cbam"):
            assert f"mask_rcnn_R_{depth}_FPN{suffix}" in CONFIGS


@pytest.mark.parametrize("name", CONFIGS)
def test_each_config_builds_with_what_it_promises(name):
    cfg = config(name)
    model = models.build_model(cfg)
    attention = {n: m for n, m in model.named_modules() if n.endswith(".attention")}
    expected = {"": set(), "bam": {"BAM"}, "cbam": {"CBAM"}}[name.split("FPN")[1].lstrip("_")]
    assert {type(m).__name__ for m in attention.values()} == expected
    if expected:
        assert sorted(attention) == [f"backbone.bottom_up.{s}.attention" for s in ("res2", "res3", "res4")]


def test_baseline_equals_stock_detectron2_with_the_same_weights():
    cfg = config("mask_rcnn_R_18_FPN")
    ours = build_backbone(cfg).eval()  # MODEL.BACKBONE.NAME: build_resnet_attention_fpn_backbone
    stock = build_resnet_fpn_backbone(cfg, ShapeSpec(channels=3)).eval()
    for p in stock.parameters():  # weights unlike ours, then copied over
        torch.nn.init.normal_(p, std=0.05)
    ours.load_state_dict(stock.state_dict())
    x = torch.randn(1, 3, 96, 160)
    with torch.no_grad():
        a, b = ours(x), stock(x)
    assert a.keys() == b.keys() == {"p2", "p3", "p4", "p5", "p6"}
    for k in a:
        assert torch.equal(a[k], b[k])


def test_refined_map_feeds_the_next_stage_and_the_fpn():
    cfg = config("mask_rcnn_R_18_FPN_bam")
    fpn = build_backbone(cfg).eval()
    bottom_up = fpn.bottom_up
    seen = {}

    def around_bam(module, inputs, output):
        seen["bam_in"], seen["bam_out"] = inputs[0], output

    hooks = [bottom_up.res2.attention.register_forward_hook(around_bam),
             bottom_up.res3[0].register_forward_hook(lambda m, i, o: seen.__setitem__("res3_in", i[0]))]
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        features = bottom_up(x)
    for h in hooks:
        h.remove()
    assert not torch.allclose(seen["bam_in"], seen["bam_out"])  # the module changed the map
    assert torch.equal(seen["res3_in"], seen["bam_out"])  # res3 received the refined map
    assert torch.equal(features["res2"], seen["bam_out"])  # and so does the FPN


def test_attention_trains_inside_frozen_stages():
    cfg = config("mask_rcnn_R_18_FPN_bam", "MODEL.BACKBONE.FREEZE_AT", "2")
    bottom_up = build_backbone(cfg).bottom_up.train()
    assert not any(p.requires_grad for p in bottom_up.res2[0].parameters())  # res2 is frozen
    bottom_up(torch.randn(2, 3, 64, 96))["res4"].sum().backward()
    for stage in ("res2", "res3", "res4"):
        params = dict(getattr(bottom_up, stage).attention.named_parameters())
        assert all(p.grad is not None for p in params.values()), stage
        # (A bias right before BatchNorm has a zero gradient in training mode: BN removes the mean.)
        assert all(p.grad.abs().sum() > 0 for name, p in params.items() if name.endswith("weight")), stage


def test_unknown_stage_names_the_valid_ones():
    cfg = config("mask_rcnn_R_18_FPN_bam", "MODEL.ATTENTION.STAGES", "['res2', 'res7']")
    with pytest.raises(ValueError, match=r"res7.*'stem'|res7.*'res2', 'res3'"):
        build_backbone(cfg)


def _training_batch(n=2, size=(128, 160)):
    h, w = size
    batch = []
    for i in range(n):
        masks = torch.zeros(2, h, w, dtype=torch.bool)
        masks[0, 20:60, 30:50] = True
        masks[1, 70 + i:110, 90:150] = True
        inst = Instances((h, w), gt_boxes=Boxes(BitMasks(masks).get_bounding_boxes().tensor),
                         gt_classes=torch.zeros(2, dtype=torch.long), gt_masks=BitMasks(masks))
        batch.append({"image": torch.randint(0, 255, (3, h, w)).float(), "instances": inst})
    return batch


@pytest.mark.parametrize("name", ["mask_rcnn_R_18_FPN", "mask_rcnn_R_18_FPN_bam", "mask_rcnn_R_18_FPN_cbam"])
def test_r18_runs_a_training_step_and_inference_on_cpu(name):
    model = models.build_model(config(name)).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    with EventStorage():  # detectron2 logs training statistics into one
        losses = model(_training_batch())
    assert {"loss_cls", "loss_box_reg", "loss_mask", "loss_rpn_cls", "loss_rpn_loc"} <= losses.keys()
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    optimizer.step()

    model.eval()
    with torch.no_grad():
        (out,) = model([{"image": torch.randint(0, 255, (3, 100, 140)).float(), "height": 200, "width": 280}])
    instances = out["instances"]
    assert instances.image_size == (200, 280)
    assert instances.pred_masks.shape[1:] == (200, 280)


def test_variants_built_with_one_seed_share_every_common_initial_weight():
    torch.manual_seed(0)
    baseline = models.build_model(config("mask_rcnn_R_18_FPN")).state_dict()
    torch.manual_seed(0)
    bam = models.build_model(config("mask_rcnn_R_18_FPN_bam")).state_dict()
    shared = [k for k in baseline if k in bam]
    assert len(shared) == len(baseline)
    assert [k for k in shared if not torch.equal(baseline[k], bam[k])] == []
