"""Adding an attention type takes one description: a third type, defined and registered here
only, is built, captured, shown by the views and recognised in a checkpoint with no other change."""

import numpy as np
import pytest
import torch
from torch import nn

import models
from models import ATTENTION_REGISTRY, AttentionType
from tests.conftest import config
from tests.viz.conftest import hook_count
from viz.analysis import ModelAnalysis
from viz.capture import capture
from viz.catalogue import attention_modules, layer_catalogue
from viz.views.attention import stage_panels, statistics_rows

SIZE = ("INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "160")


class PixelGate(nn.Module):
    """F * σ(w) * σ(conv1x1(F)): a learnt channel weight and a one-layer spatial gate."""

    def __init__(self, channels: int):
        super().__init__()
        self.channel_logits = nn.Parameter(torch.randn(channels))
        self.channel_gate = nn.Sigmoid()
        self.score = nn.Conv2d(channels, 1, kernel_size=1)
        self.spatial_gate = nn.Sigmoid()

    def forward(self, x):
        return x * self.channel_gate(self.channel_logits.view(1, -1, 1, 1)) * self.spatial_gate(self.score(x))


def _maps(parts):
    channel, spatial = parts["channel"][:, 0, 0], parts["spatial"][0]
    return {"channel": channel, "spatial": spatial, "combined": channel[:, None, None] * spatial[None]}


@pytest.fixture
def pixel_gate():
    spec = ATTENTION_REGISTRY.add(AttentionType(
        name="pixelgate", title="PixelGate", module_class=PixelGate,
        build=lambda cfg, channels: PixelGate(channels),
        hooks={"channel_gate": "channel", "spatial_gate": "spatial"}, to_maps=_maps, residual=False,
        channels_key="channel_logits", channel_label="σ(w)", spatial_label="σ(conv)", combined_label="σ(w) · σ(conv)"))
    yield spec
    del ATTENTION_REGISTRY._obj_map[spec.name]  # fvcore's Registry has no removal: leave it as found


def test_a_third_type_reaches_capture_catalogue_and_views(pixel_gate, tmp_path):
    cfg = config("mask_rcnn_R_18_FPN", "MODEL.ATTENTION.TYPE", "pixelgate", *SIZE)
    model = models.build_model(cfg)
    assert str(models.describe(cfg)) == "ResNet-18-FPN, PixelGate after res2, res3, res4"

    assert {info.kind for info in attention_modules(model).values()} == {"pixelgate"}
    assert layer_catalogue(model)["c3_pre"].description == "res3 output before PixelGate"

    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    cap = capture(model, cfg, image)
    assert hook_count(model) == 0 and set(cap.attention) == {"c2", "c3", "c4"}
    maps = cap.attention["c3"]
    assert maps.kind == "pixelgate" and maps.spec is pixel_gate
    expected = torch.sigmoid(model.backbone.bottom_up.res3.attention.channel_logits).detach().numpy()
    np.testing.assert_allclose(maps.channel, expected, rtol=1e-5)
    np.testing.assert_allclose(cap.features["c3"], cap.features["c3_pre"] * maps.combined, rtol=1e-4, atol=1e-5)

    analysis = ModelAnalysis("pixel", cap, ("crack",), 0.0)
    panels = stage_panels(analysis, image, "c3", on_image=False)
    assert panels["spatial attention"].caption.startswith("σ(conv): ")
    assert panels["combined attention"].caption.startswith("σ(w) · σ(conv), mean over channels")
    assert "entering PixelGate" in panels["input feature"].caption
    assert panels["refined feature"].image.shape == image.shape
    assert [row["kind"] for row in statistics_rows(analysis)] == ["PixelGate"] * 3

    # Its weights are recognised by `channels_key`: a config naming no attention builds it.
    weights = models.save_weights(model, tmp_path / "pixel.pth", half=False)
    plain = tmp_path / "plain.yaml"
    plain.write_text(f'_BASE_: "{models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml"}"\n')
    loaded = models.load_model(plain, weights)
    assert loaded.notes == ("PixelGate found in the weights after res2, res3, res4; "
                            "the config names none: built with it",)
    assert torch.equal(loaded.model.backbone.bottom_up.res4.attention.channel_logits,
                       model.backbone.bottom_up.res4.attention.channel_logits)


def test_an_unregistered_type_is_a_config_error_naming_the_registered_ones(tmp_path):
    path = tmp_path / "user.yaml"
    path.write_text('MODEL:\n  ATTENTION:\n    TYPE: "pixelgate"\n')
    with pytest.raises(models.ConfigError, match=r"'pixelgate'; use one of \['none', 'bam', 'cbam'\]"):
        models.get_config(path)
