"""Weights files: round trips, detectron2's checkpointer, the BAM authors' key names, bad files."""

import os
import pickle

import pytest
import torch

import models
from models import CheckpointError, load_weights, save_weights
from tests.conftest import config

from detectron2.checkpoint import DetectionCheckpointer


@pytest.fixture(scope="module")
def bam_cfg():
    return config("mask_rcnn_R_18_FPN_bam")


def _randomized(model):
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(std=0.05)
    return model


def test_float16_round_trip(tmp_path, bam_cfg):
    source = _randomized(models.build_model(bam_cfg))
    path = save_weights(source, tmp_path / "bam.pth")
    target = models.build_model(bam_cfg)
    load_weights(target, path)
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert b.dtype == a.dtype, name
        assert torch.allclose(a.float(), b.float(), atol=1e-3, rtol=1e-3), name


def test_detectron2_checkpointer_loads_ours(tmp_path, bam_cfg):
    source = _randomized(models.build_model(bam_cfg))
    path = save_weights(source, tmp_path / "bam.pth", half=False)
    target = models.build_model(bam_cfg)
    DetectionCheckpointer(target).load(str(path))
    for name, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[name]), name


def official_bam_keys(channels: int, hidden: int) -> dict[str, tuple[int, ...]]:
    """The tensors one BAM of the authors' code has (names as in their MODELS/bam.py)."""
    keys = {"channel_att.gate_c.gate_c_fc_0.weight": (hidden, channels),
            "channel_att.gate_c.gate_c_fc_0.bias": (hidden,),
            "channel_att.gate_c.gate_c_fc_final.weight": (channels, hidden),
            "channel_att.gate_c.gate_c_fc_final.bias": (channels,),
            "spatial_att.gate_s.gate_s_conv_reduce0.weight": (hidden, channels, 1, 1),
            "spatial_att.gate_s.gate_s_conv_reduce0.bias": (hidden,),
            "spatial_att.gate_s.gate_s_conv_final.weight": (1, hidden, 1, 1),
            "spatial_att.gate_s.gate_s_conv_final.bias": (1,)}
    for i in range(2):
        keys[f"spatial_att.gate_s.gate_s_conv_di_{i}.weight"] = (hidden, hidden, 3, 3)
        keys[f"spatial_att.gate_s.gate_s_conv_di_{i}.bias"] = (hidden,)
    for bn, size in [("channel_att.gate_c.gate_c_bn_1", hidden), ("spatial_att.gate_s.gate_s_bn_reduce0", hidden),
                     ("spatial_att.gate_s.gate_s_bn_di_0", hidden), ("spatial_att.gate_s.gate_s_bn_di_1", hidden)]:
        for t in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{bn}.{t}"] = (size,)
    return keys


def test_official_bam_names_load_with_no_missing_attention_keys(tmp_path, bam_cfg):
    model = models.build_model(bam_cfg)
    state = {}
    for i, channels in enumerate((64, 128, 256), start=1):  # ResNet-18's layer1..3
        for key, shape in official_bam_keys(channels, channels // 16).items():
            state[f"module.bam{i}.{key}"] = torch.full(shape, float(i))
    path = tmp_path / "official.pth"
    torch.save({"state_dict": None, "model": state}, path)

    missing, unexpected = load_weights(model, path, stages=["res2", "res3", "res4"], strict=False)
    assert unexpected == []
    assert not [k for k in missing if ".attention." in k]
    weights = model.state_dict()
    assert torch.all(weights["backbone.bottom_up.res2.attention.channel_att.gate_c.gate_c_fc_0.weight"] == 1)
    assert torch.all(weights["backbone.bottom_up.res4.attention.spatial_att.gate_s.gate_s_conv_di_1.weight"] == 3)


def test_a_checkpoint_for_another_model_names_the_keys(tmp_path, bam_cfg):
    path = save_weights(models.build_model(config("mask_rcnn_R_18_FPN_cbam")), tmp_path / "cbam.pth")
    with pytest.raises(CheckpointError) as e:
        load_weights(models.build_model(bam_cfg), path)
    message = str(e.value)
    assert "cbam.pth does not fit" in message
    assert "missing from the file: backbone.bottom_up.res2.attention.channel_att" in message
    assert "not in the model: backbone.bottom_up.res2.attention.channel_gate" in message


def test_wrong_shapes_are_named_even_when_not_strict(tmp_path, bam_cfg):
    r50 = models.build_model(config("mask_rcnn_R_50_FPN_bam"))
    path = save_weights(r50, tmp_path / "r50.pth")
    with pytest.raises(CheckpointError, match=r"wrong shapes: backbone\.bottom_up\..*file \("):
        load_weights(models.build_model(bam_cfg), path, strict=False)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_runs_code_is_refused_not_executed(tmp_path, bam_cfg):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"model": _RunsCode(marker)}, f)
    torch.save({"model": {"x": torch.zeros(1)}, "payload": _RunsCode(marker)}, tmp_path / "evil2.pth")
    for evil in (path, tmp_path / "evil2.pth"):
        with pytest.raises(CheckpointError, match="refused"):
            load_weights(models.build_model(bam_cfg), evil)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_garbage_files_give_a_clear_error(tmp_path, bam_cfg, content):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="weights.pth"):
        load_weights(models.build_model(bam_cfg), path)


def test_load_model_from_config_and_weights(tmp_path, bam_cfg):
    path = save_weights(models.build_model(bam_cfg), tmp_path / "w.pth")
    model, cfg = models.load_model(models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml", path)
    assert not model.training and cfg.MODEL.ATTENTION.TYPE == "bam"


@pytest.mark.parametrize("weights_config, weights_opts, model_config, model_opts, cause", [
    ("mask_rcnn_R_18_FPN", (), "mask_rcnn_R_18_FPN_bam", (),
     "the config has attention modules and the weights have none"),
    ("mask_rcnn_R_18_FPN_bam", (), "mask_rcnn_R_18_FPN", (), "the weights hold attention modules the config lacks"),
    ("mask_rcnn_R_18_FPN", ("MODEL.ROI_HEADS.NUM_CLASSES", "3"), "mask_rcnn_R_18_FPN", (),
     "trained for another number of classes (3): set MODEL.ROI_HEADS.NUM_CLASSES"),
    ("mask_rcnn_R_50_FPN", (), "mask_rcnn_R_18_FPN", (), "its backbone differs"),
], ids=["baseline-into-bam", "bam-into-baseline", "three-classes", "r50-into-r18"])
def test_weights_that_do_not_fit_say_why_first(tmp_path, weights_config, weights_opts, model_config, model_opts,
                                               cause):
    path = save_weights(models.build_model(config(weights_config, *weights_opts)), tmp_path / "theirs.pth")
    with pytest.raises(CheckpointError) as e:
        load_weights(models.build_model(config(model_config, *model_opts)), path)
    message = str(e.value)
    assert message.startswith("theirs.pth does not fit this model (") and cause in message.split(". ", 1)[0]
