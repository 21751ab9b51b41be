"""BAM / CBAM weights in any layout: found by their inner key names, given a stage by their channel
count, and built where the config names no attention, with a note saying so."""

import re

import numpy as np
import pytest
import torch

import models
from models import CheckpointError, load_weights, save_weights
from tests.conftest import config
from viz.capture import capture

R18 = models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml"
NOTE = "BAM found in the weights after res2, res3, res4; the config names none: built with it"


def _randomized(model):
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(std=0.05)
    return model


@pytest.fixture(scope="module")
def bam_model():
    return _randomized(models.build_model(config("mask_rcnn_R_18_FPN_bam")))


def _stock_config(folder, extra: str = ""):
    """A user's config: ours with detectron2's stock backbone builder, no MODEL.ATTENTION."""
    path = folder / "stock.yaml"
    path.write_text(f'_BASE_: "{R18}"\nMODEL:\n  BACKBONE:\n    NAME: "build_resnet_fpn_backbone"\n{extra}')
    return path


def _renamed(state: dict, rename) -> dict:
    out = {}
    for key, value in state.items():
        match = re.match(r"backbone\.bottom_up\.res(\d)\.attention\.(.+)", key)
        out[rename(int(match.group(1)) - 1, match.group(2)) if match else key] = value
    return out


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert [k for k in sa if not torch.equal(sa[k], sb[k])] == []


def test_edited_resnet_layout_with_the_stock_backbone_builds_bam_and_says_so(tmp_path, bam_model):
    # detectron2's resnet.py edited to hold self.bam1..bam3, as users of seed 000 did.
    state = _renamed(bam_model.state_dict(), lambda i, inner: f"backbone.bottom_up.bam{i}.{inner}")
    torch.save({"model": state, "iteration": 9}, tmp_path / "edited.pth")

    model, cfg = loaded = models.load_model(_stock_config(tmp_path), tmp_path / "edited.pth")
    assert loaded.notes == (NOTE,)
    assert cfg.MODEL.BACKBONE.NAME == "build_resnet_attention_fpn_backbone" and cfg.MODEL.ATTENTION.TYPE == "bam"
    assert str(models.describe(cfg)).startswith("ResNet-18-FPN, BAM after res2, res3, res4")
    _same_weights(model, bam_model)


def test_authors_layout_with_a_dataparallel_prefix(tmp_path, bam_model):
    state = _renamed(bam_model.state_dict(), lambda i, inner: f"module.bam{i}.{inner}")
    torch.save(state, tmp_path / "authors.pth")
    loaded = models.load_model(R18, tmp_path / "authors.pth")  # ours, MODEL.ATTENTION.TYPE "none"
    assert loaded.notes == (NOTE,)
    _same_weights(loaded.model, bam_model)
    # A config naming BAM takes them too, silently.
    loaded = models.load_model(models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml", tmp_path / "authors.pth")
    assert loaded.notes == ()
    _same_weights(loaded.model, bam_model)


def test_our_layout_under_a_config_naming_none(tmp_path, bam_model):
    path = save_weights(bam_model, tmp_path / "ours.pth", half=False)
    loaded = models.load_model(_stock_config(tmp_path), path)
    assert loaded.notes == (NOTE,)
    _same_weights(loaded.model, bam_model)


def test_stages_come_from_channel_counts_not_from_names(tmp_path, bam_model):
    # Only two modules, numbered from 1, sitting after res3 and res4 (128 and 256 channels).
    state = {k: v for k, v in bam_model.state_dict().items() if ".res2.attention." not in k}
    state = _renamed(state, lambda i, inner: f"att{i - 1}.{inner}")
    torch.save(state, tmp_path / "two.pth")
    loaded = models.load_model(R18, tmp_path / "two.pth")
    assert loaded.notes == ("BAM found in the weights after res3, res4; the config names none: built with it",)
    assert loaded.cfg.MODEL.ATTENTION.STAGES == ["res3", "res4"]


def test_ambiguous_weights_list_what_was_found_and_the_keys_to_set(tmp_path, bam_model):
    state = _renamed(bam_model.state_dict(), lambda i, inner: f"bam{i}.{inner}")
    odd = models.BAM(96)  # 96 channels: no stage of ResNet-18 has them
    state.update({f"bam9.{k}": v for k, v in odd.state_dict().items()})
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError) as e:
        models.load_model(_stock_config(tmp_path), tmp_path / "odd.pth")
    message = str(e.value)
    assert message.startswith("odd.pth: Attention modules found in the weights: BAM at bam1 (64 channels: res2)")
    assert "BAM at bam9 (96 channels: no stage)" in message
    assert "res2 64, res3 128, res4 256, res5 512" in message
    assert 'MODEL.ATTENTION.TYPE: "bam"' in message and "MODEL.ATTENTION.STAGES" in message


def test_two_types_in_one_file_are_ambiguous(tmp_path, bam_model):
    state = dict(bam_model.state_dict())
    state.update({f"extra.{k}": v for k, v in models.CBAM(512).state_dict().items()})
    torch.save(state, tmp_path / "mixed.pth")
    with pytest.raises(CheckpointError, match="several types"):
        models.load_model(R18, tmp_path / "mixed.pth")


def test_cbam_authors_inner_names_are_mapped(tmp_path):
    source = _randomized(models.build_model(config("mask_rcnn_R_18_FPN_cbam")))
    theirs = {"channel_gate.mlp.0.": "ChannelGate.mlp.1.", "channel_gate.mlp.2.": "ChannelGate.mlp.3.",
              "spatial_gate.conv.": "SpatialGate.spatial.conv.", "spatial_gate.bn.": "SpatialGate.spatial.bn."}

    def authors(i, inner):
        ours = next(o for o in theirs if inner.startswith(o))
        return f"cbam{i}.{theirs[ours]}{inner[len(ours):]}"

    torch.save(_renamed(source.state_dict(), authors), tmp_path / "cbam.pth")
    target = models.build_model(config("mask_rcnn_R_18_FPN_cbam"))
    assert tuple(load_weights(target, tmp_path / "cbam.pth")) == ([], [])
    _same_weights(target, source)


def test_block_placement_puts_one_module_in_every_block(tmp_path):
    cfg = config("mask_rcnn_R_18_FPN_cbam", "MODEL.ATTENTION.PLACEMENT", "block",
                 "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "160")
    model = _randomized(models.build_model(cfg))
    found = sorted(n for n, m in model.named_modules() if isinstance(m, models.CBAM))
    assert found == [f"backbone.bottom_up.res{s}.{b}.conv2.activation" for s in (2, 3, 4) for b in (0, 1)]
    assert str(models.describe(cfg)) == "ResNet-18-FPN, CBAM in every block of res2, res3, res4"

    # The captured maps are those of each stage's last block: its residual branch times the gates.
    cap = capture(model, cfg, np.full((96, 128, 3), 120, np.uint8))
    assert set(cap.attention) == {"c2", "c3", "c4"} and cap.features["c3_pre"].shape == cap.features["c3"].shape
    branch = model.backbone.bottom_up.res3[1].conv2
    assert branch.activation.channels == cap.attention["c3"].channel.size == 128

    # Its weights load into a config naming none, with the placement.
    path = save_weights(model, tmp_path / "block.pth", half=False)
    loaded = models.load_model(R18, path)
    assert loaded.notes == ("CBAM found in the weights in every block of res2, res3, res4; "
                            "the config names none: built with it",)
    _same_weights(loaded.model, model)


def test_block_attention_learns_inside_frozen_stages():
    cfg = config("mask_rcnn_R_18_FPN_cbam", "MODEL.ATTENTION.PLACEMENT", "block", "MODEL.BACKBONE.FREEZE_AT", "2")
    res2 = models.build_model(cfg).backbone.bottom_up.res2[0]
    assert not res2.conv1.weight.requires_grad  # a frozen stage
    assert all(p.requires_grad for p in res2.conv2.activation.parameters())
