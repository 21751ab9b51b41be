"""Capture: every promised map, right shapes, right numbers, no hooks left, thread-safe."""

import math
import threading

import numpy as np
import pytest
import torch
from scipy.special import expit

import models
from tests.conftest import config
from tests.viz.conftest import hook_count
from viz.capture import capture
from viz.catalogue import UnknownLayerError, get_layer, layer_catalogue


@pytest.mark.parametrize("name", ["mask_rcnn_R_18_FPN_bam", "mask_rcnn_R_18_FPN_cbam", "mask_rcnn_R_50_FPN_bam",
                                  "mask_rcnn_R_50_FPN_cbam"])
@pytest.mark.parametrize("size", [(128, 128), (120, 200)], ids=["square", "non-square"])
def test_capture_returns_every_map_with_the_right_shape(name, size):
    cfg = config(name, "INPUT.MIN_SIZE_TEST", str(min(size)), "INPUT.MAX_SIZE_TEST", "400")
    model = models.build_model(cfg)
    image = np.random.default_rng(1).integers(0, 255, (*size, 3), dtype=np.uint8)
    cap = capture(model, cfg, image, fpn=True)

    h, w = cap.model_input.input_size
    assert (h, w) == size  # MIN_SIZE_TEST equals the short side: no resize
    catalogue = layer_catalogue(model)
    assert set(cap.features) == set(catalogue) == {"c2", "c3", "c4", "c5", "c2_pre", "c3_pre", "c4_pre",
                                                   "p2", "p3", "p4", "p5", "p6"}
    for layer in catalogue.values():
        assert cap.features[layer.name].shape == (layer.channels, math.ceil(h / layer.stride),
                                                  math.ceil(w / layer.stride)), layer.name
        assert cap.features[layer.name].dtype == np.float32
    assert set(cap.attention) == {"c2", "c3", "c4"}
    for stage, maps in cap.attention.items():
        channels, rows, cols = cap.features[stage].shape
        assert maps.channel.shape == (channels,) and maps.spatial.shape == (rows, cols)
        assert maps.combined.shape == (channels, rows, cols) and maps.combined_mean.shape == (rows, cols)
        for m in (maps.channel, maps.spatial, maps.combined):
            assert m.min() >= 0 and m.max() <= 1
        # The captured maps explain the refined features exactly.
        pre, refined = cap.features[f"{stage}_pre"], cap.features[stage]
        factor = 1 + maps.combined if maps.kind == "bam" else maps.combined
        np.testing.assert_allclose(refined, pre * factor, rtol=1e-4, atol=1e-4)
        assert cap.to_image(maps.spatial, cap.strides[stage]).shape == size
    assert len(cap.instances) == len(cap.instances.scores) and cap.instances.image_size == size
    assert hook_count(model) == 0


def test_bam_maps_are_the_sigmoids_of_the_branches(r18_bam, image):
    model, cfg = r18_bam
    maps = capture(model, cfg, image).attention["c3"]
    np.testing.assert_allclose(maps.channel, expit(maps.channel_logits), rtol=1e-5)
    product = expit(maps.channel_logits[:, None, None] * maps.spatial_logits[None])
    np.testing.assert_allclose(maps.combined, product, rtol=1e-4, atol=1e-6)


def test_capture_without_fpn_skips_p_levels(r18_bam, image):
    model, cfg = r18_bam
    assert not any(k.startswith("p") for k in capture(model, cfg, image).features)


def test_to_image_maps_back_to_the_original_size_without_padding(r18_bam):
    model, cfg = r18_bam
    image = np.zeros((100, 171, 3), dtype=np.uint8)  # resized to 192 x 328: padded to 192 x 352
    cap = capture(model, cfg, image)
    rows, cols = cap.model_input.valid_size(4)
    grid = np.zeros((rows, cols), np.float32)
    grid[:, : cols // 2] = 1.0  # left half of the image region
    back = cap.to_image(grid, 4)
    assert back.shape == (100, 171)
    # The edge stays in the middle of the image: no stretch from the padding.
    assert back[:, :80].min() > 0.99 and back[:, 90:].max() < 0.01


def test_no_hooks_remain_after_an_exception(r18_bam, image, monkeypatch):
    model, cfg = r18_bam

    def broken(*args, **kwargs):
        raise RuntimeError("heads failed")

    monkeypatch.setattr(model.roi_heads, "forward", broken)
    with pytest.raises(RuntimeError, match="heads failed"):
        capture(model, cfg, image)
    assert hook_count(model) == 0


def test_threads_sharing_one_model_get_their_own_results(r18_bam):
    model, cfg = r18_bam
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 255, (96 + 16 * i, 160, 3), dtype=np.uint8) for i in range(4)]
    expected = [capture(model, cfg, img, fpn=True) for img in images]
    results, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(3):
                results[i] = capture(model, cfg, images[i], fpn=True)
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for want, got in zip(expected, results):
        assert want.features.keys() == got.features.keys()
        for k in want.features:
            np.testing.assert_array_equal(want.features[k], got.features[k])
        for k in want.attention:
            np.testing.assert_array_equal(want.attention[k].combined, got.attention[k].combined)
        assert torch.equal(want.instances.scores, got.instances.scores)
    assert hook_count(model) == 0


def test_unknown_layer_lists_the_valid_ones(r18_bam):
    model, _ = r18_bam
    with pytest.raises(UnknownLayerError, match="unknown layer 'c9'; this model has: c2_pre, c2, c3_pre"):
        get_layer(layer_catalogue(model), "c9")


def test_baseline_catalogue_has_no_attention_layers():
    model = models.build_model(config("mask_rcnn_R_18_FPN"))
    catalogue = layer_catalogue(model)
    assert [n for n in catalogue if n.startswith("c")] == ["c2", "c3", "c4", "c5"]
    assert catalogue["c3"].channels == 128 and catalogue["c3"].stride == 8
