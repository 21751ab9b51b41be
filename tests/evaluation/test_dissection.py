"""Network Dissection, the attention correlation and the knock-outs (issue 21): known answers on
constructed activations, the sketch against numpy's exact quantile, merged halves against one
pass, and the knock-outs on the small R-18 pair, which they must leave untouched."""

import copy
import json
import math
import types
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from evaluation import significance
from evaluation.alignment import within
from evaluation.dissection import (
    DissectionAccumulator,
    DissectionResult,
    DissectionSettings,
    ImageStatistics,
    LayerDissection,
    LogHistogram,
    ToImage,
    attention_correlation,
    channel_rows,
    sketch_thresholds,
    spearman_rows,
)
from evaluation.dissection_figure import knockout_figure, layer_figure, save_figure, units_figure
from evaluation.knockout import (
    MEAN_ABLATION,
    KnockOut,
    knockout_markdown,
    knockout_row,
    knockout_row_from_evaluation,
    mean_ablations,
    unit_knockouts,
    variant,
)
from models.inputs import ModelInput
from viz.capture import Capture, capture

# ---------------------------------------------------------------------------------------------
# Constructed data


def crack_mask(rng, height, width, *, crack=True):
    """A few thick random lines, (H, W) bool; none without a crack."""
    mask = np.zeros((height, width), np.uint8)
    for _ in range(3 if crack else 0):
        p, q = rng.integers(0, [width, height], size=(2, 2))
        cv2.line(mask, tuple(map(int, p)), tuple(map(int, q)), 1, thickness=2)
    return mask.astype(bool)


def random_maps(rng, channels, rows, cols):
    """ReLU-like activations: zeros, and log-normal values over several octaves."""
    values = rng.lognormal(0.0, 1.5, (channels, rows, cols)).astype(np.float32)
    return np.where(rng.random(values.shape) < 0.4, 0.0, values).astype(np.float32)


def exact_top(values: np.ndarray, share: float) -> np.ndarray:
    """Per row, the k-th largest value, k = ceil(share * n): the exact top-`share` quantile."""
    k = math.ceil(share * values.shape[1])
    return -np.sort(-values, axis=1)[:, k - 1]


# ---------------------------------------------------------------------------------------------
# The sketch


@pytest.mark.parametrize("share", [0.005, 0.05, 0.3])
def test_sketch_within_its_stated_error_of_the_exact_quantile(share):
    rng = np.random.default_rng(1)
    values = random_maps(rng, 6, 300, 100).reshape(6, -1)
    values[5] = -rng.random(values.shape[1])  # a channel below the range: only the floor bin
    values[4, :40] = -1.0  # negatives go to the floor bin
    sketch = LogHistogram(6)
    for part in np.array_split(values, 7, axis=1):  # fed in pieces, as images come
        sketch.add(part)
    t = sketch_thresholds(sketch, share)
    exact = exact_top(values, share)
    in_range = ~t.ties_at_bottom
    assert in_range[:5].all()
    # the stated bound: t <= Q < t * (1 + 2**-bits)
    assert (t.values[in_range] <= exact[in_range]).all()
    assert (exact[in_range] < t.values[in_range] * (1 + sketch.relative_error)).all()
    # the share selected is the share of values at or above t: at least the quantile's
    at_or_above = (values >= t.values[:, None].astype(np.float32)).mean(axis=1)
    np.testing.assert_allclose(t.selected_share[in_range], at_or_above[in_range])
    assert (t.selected_share[in_range] >= share).all()
    # a channel entirely below the range: nothing is selected rather than everything
    assert t.ties_at_bottom[5] and t.selected_share[5] == 0


def test_sketch_bins_follow_the_values():
    sketch = LogHistogram(1, bits=6, min_exponent=-4, max_exponent=4)
    edges = sketch.lower_edges()
    inside = edges[1:].astype(np.float32)
    assert (sketch.bin_of(inside) == np.arange(1, sketch.bins)).all()
    below = np.nextafter(inside[1:], np.float32(-np.inf))  # just under each edge: the bin before
    assert (sketch.bin_of(below) == np.arange(1, sketch.bins - 1)).all()
    assert (sketch.bin_of(np.array([0.0, -3.0, 2.0 ** -5], np.float32)) == 0).all()
    assert sketch.bin_of(np.array([2.0 ** 4, np.inf], np.float32)).tolist() == [sketch.bins - 1] * 2
    ratios = edges[2:-1] / edges[1:-2]
    assert ratios.max() <= 1 + sketch.relative_error + 1e-12


def test_sketches_merge_to_the_one_pass_counts():
    rng = np.random.default_rng(2)
    values = random_maps(rng, 4, 50, 50)
    one, a, b = LogHistogram(4), LogHistogram(4), LogHistogram(4)
    one.add(values)
    a.add(values[:, :20])
    b.add(values[:, 20:])
    a.merge(b)
    assert np.array_equal(one.counts, a.counts)


# ---------------------------------------------------------------------------------------------
# Dissection on constructed maps


def constructed_images(rng, n=6, size=(48, 40)):
    """(image id, mask, features) with c2 at stride 1 (the image as the model sees it): channel 0
    is the mask itself, 1 constant, 2 noise, 3 zero; 'c3' at stride 4, noise."""
    out = []
    for i in range(n):
        mask = crack_mask(rng, *size, crack=i % 3 != 2)  # a third without a crack
        c2 = np.stack([mask.astype(np.float32), np.full(size, 0.7, np.float32),
                       rng.random(size).astype(np.float32), np.zeros(size, np.float32)])
        c3 = random_maps(rng, 8, math.ceil(size[0] / 4), math.ceil(size[1] / 4))
        out.append((100 + i, mask, {"c2": c2, "c3": c3}))
    return out


STRIDES = {"c2": 1, "c3": 4}


@pytest.mark.parametrize("quantile", [0.005, 0.5])  # below and above the mask's share of the pixels
def test_a_channel_equal_to_the_mask_has_iou_1_and_a_constant_one_is_not_a_unit(quantile):
    settings = DissectionSettings(quantile=quantile, dilation_px=0, layers=("c2", "c3"), resamples=50)
    acc = DissectionAccumulator(settings)
    for image_id, mask, features in constructed_images(np.random.default_rng(3)):
        acc.add_maps(image_id, features, STRIDES, mask)
    c2 = acc.result().layers["c2"]
    assert c2.iou[0] == 1.0 and c2.crack_units[0] == 0
    assert c2.iou[1] == 0.0 and 1 not in c2.crack_units  # constant: nothing above its threshold
    assert c2.iou[3] == 0.0 and 3 not in c2.crack_units  # all zero
    assert c2.ties_at_bottom[1] and c2.ties_at_bottom[3]


def brute_force_counts(images, result, settings, *, strides, input_sizes):
    """Per image and layer, (pixels at or above the threshold, of them on the dilated mask), with
    Capture.to_image channel by channel."""
    counts = {}
    for image_id, mask, features in images:
        height, width = mask.shape
        h, w = input_sizes[image_id]
        fake = types.SimpleNamespace(model_input=ModelInput(torch.zeros(3, h, w), height, width))
        near = within(mask, settings.dilation_px)
        for layer, maps in features.items():
            t = result.layers[layer].thresholds.astype(np.float32)
            up = np.stack([Capture.to_image(fake, m, strides[layer]) for m in maps]) >= t[:, None, None]
            counts.setdefault(layer, []).append((up.sum(axis=(1, 2)), (up & near).sum(axis=(1, 2))))
    return {layer: tuple(np.array(v) for v in zip(*rows)) for layer, rows in counts.items()}


RESIZED_STRIDES = {"c2": 4, "c3": 8}


def resized_images(rng, first_id=0):
    """Images seen by the model at another size than their own (the input is resized): c2 at
    stride 4 and c3 at stride 8 of the input, masks at the original size. ([(id, mask, features)],
    {id: input size})."""
    out, sizes = [], {}
    for i, ((height, width), (h, w)) in enumerate([((50, 70), (40, 56)), ((64, 48), (64, 48)),
                                                   ((30, 45), (40, 60)), ((50, 70), (40, 56))]):
        features = {"c2": random_maps(rng, 6, math.ceil(h / 4), math.ceil(w / 4)),
                    "c3": random_maps(rng, 5, math.ceil(h / 8), math.ceil(w / 8))}
        out.append((first_id + i, crack_mask(rng, height, width, crack=i != 1), features))
        sizes[first_id + i] = (h, w)
    return out, sizes


def test_iou_counts_equal_the_brute_force_upsampling_with_or_without_dropping_cells():
    rng = np.random.default_rng(4)
    images, sizes = resized_images(rng)
    settings = DissectionSettings(quantile=0.02, layers=("c2", "c3"), resamples=50)
    strides = RESIZED_STRIDES
    totals = {layer: sum(f[layer][0].size for _, _, f in images) for layer in strides}
    results = []
    for total_cells in (None, totals):
        acc = DissectionAccumulator(settings, total_cells=total_cells)
        acc.prune_slack = 0  # prune as often as it may
        for image_id, mask, features in images:
            acc.add_maps(image_id, features, strides, mask, input_size=sizes[image_id])
        stats = acc.image_statistics()
        results.append((acc, stats))
    (full, stats), (pruned, pruned_stats) = results
    assert pruned._kept_cells() < full._kept_cells()  # it did drop cells
    expected = brute_force_counts(images, full.result(), settings, strides=strides, input_sizes=sizes)
    for layer in strides:
        assert np.array_equal(stats.active[layer], expected[layer][0])
        assert np.array_equal(stats.intersection[layer], expected[layer][1])
        assert np.array_equal(pruned_stats.active[layer], stats.active[layer])
        assert np.array_equal(pruned_stats.intersection[layer], stats.intersection[layer])


def test_a_total_too_small_is_refused_not_miscounted():
    rng = np.random.default_rng(5)
    images, sizes = resized_images(rng)
    acc = DissectionAccumulator(DissectionSettings(quantile=0.02, layers=("c2",)), total_cells={"c2": 10})
    for image_id, mask, features in images:
        acc.add_maps(image_id, {"c2": features["c2"]}, RESIZED_STRIDES, mask, input_size=sizes[image_id])
    acc.prune()
    with pytest.raises(ValueError, match="total_cells"):
        acc.result()


def test_two_halves_merged_equal_one_pass():
    rng = np.random.default_rng(6)
    images, sizes = resized_images(rng)
    more, more_sizes = resized_images(rng, first_id=10)
    images, sizes = images + more, {**sizes, **more_sizes}
    settings = DissectionSettings(quantile=0.02, layers=("c2", "c3"), resamples=200)
    strides = RESIZED_STRIDES
    totals = {layer: sum(f[layer][0].size for _, _, f in images) for layer in strides}
    weights = {image_id: rng.random(6).astype(np.float32) for image_id, _, _ in images}

    def feed(acc, part):
        acc.prune_slack = 0
        for image_id, mask, features in part:
            acc.add_maps(image_id, features, strides, mask, input_size=sizes[image_id],
                         channel_weights={"c2": weights[image_id]}, attention_kinds={"c2": "bam"},
                         gates={"c2": {"combined": np.tile(weights[image_id][:, None, None], (1, 3, 3))}})
        return acc

    one = feed(DissectionAccumulator(settings, total_cells=totals), images)
    first = feed(DissectionAccumulator(settings, total_cells=totals), images[::2])
    second = feed(DissectionAccumulator(settings, total_cells=totals), images[1::2][::-1])
    merged = first.merge(second)
    assert json.dumps(merged.result().to_json()) == json.dumps(one.result().to_json())
    with pytest.raises(ValueError, match="both"):
        feed(DissectionAccumulator(settings, total_cells=totals), images[:1]).merge(
            feed(DissectionAccumulator(settings, total_cells=totals), images[:1]))


def test_the_result_reads_back_from_its_json():
    rng = np.random.default_rng(7)
    acc = DissectionAccumulator(DissectionSettings(layers=("c2", "c3"), resamples=50))
    for image_id, mask, features in constructed_images(rng):
        acc.add_maps(image_id, features, STRIDES, mask, channel_weights={"c2": rng.random(4)},
                     attention_kinds={"c2": "bam"})
    result = acc.result()
    text = json.dumps(result.to_json(), allow_nan=False)
    again = DissectionResult.from_json(json.loads(text))
    assert json.dumps(again.to_json(), allow_nan=False) == text
    assert again.crack_unit_counts() == result.crack_unit_counts()
    assert "2 px" in result.method and "0.5% quantile" in result.method
    rows = channel_rows(result)
    assert len(rows) == 1 + 4 + 8 and rows[1][:2] == ["c2", 0] and rows[1][3] is True  # the mask channel


# ---------------------------------------------------------------------------------------------
# The attention correlation on constructed statistics


def constructed_statistics(n=40, channels=30, *, sign=1.0, boost=0.2, seed=8):
    """IoU rising with the channel index; mean weights rising (sign 1) or falling (-1) with it;
    on images with a crack, the 5 best channels' weights raised by `boost`."""
    rng = np.random.default_rng(seed)
    crack = np.arange(n) % 2 == 0
    base = np.linspace(0.2, 0.8, channels)
    weights = 0.5 + sign * (base - 0.5)[None, :] + rng.normal(0, 0.01, (n, channels))
    weights[np.ix_(crack, np.arange(channels - 5, channels))] += boost
    inter = np.tile(np.arange(channels) * 3 + 1, (n, 1)).astype(np.int64) * crack[:, None]
    active = np.full((n, channels), 400, np.int64)
    return ImageStatistics(image_ids=np.arange(n), crack=crack, mask_pixels=np.where(crack, 200, 0),
                           pixels=np.full(n, 10000), intersection={"c3": inter}, active={"c3": active},
                           thresholds={}, channel_weights={"c3": weights}, attention_kinds={"c3": "bam"})


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_spearman_and_its_bootstrap_on_constructed_weights(sign):
    stats = constructed_statistics(sign=sign)
    settings = DissectionSettings(resamples=300, iou_threshold=0.05)  # units: channels 16..29
    corr = attention_correlation(stats, "c3", "c3", settings)
    assert corr.spearman.observed == pytest.approx(sign * 1.0, abs=0.02)
    assert corr.spearman.low <= corr.spearman.observed <= corr.spearman.high
    assert sign * corr.spearman.low > 0.9  # the sign holds in every resample
    # with a crack, the best channels' weights are raised by 0.2, the others unchanged
    np.testing.assert_allclose(corr.change[-5:], 0.2, atol=0.02)
    np.testing.assert_allclose(corr.change[:-5], 0.0, atol=0.02)
    assert (corr.change_low[-5:] > 0.1).all()
    iou = stats.intersection["c3"].sum(0) / stats.union("c3").sum(0)
    units = iou > settings.iou_threshold
    assert units[-5:].all() and not units.all()
    expected = corr.change[units].mean() - corr.change[~units].mean()
    assert corr.units_minus_others.observed == pytest.approx(expected)
    assert corr.units_minus_others.low > 0


def test_spearman_rows_is_scipys():
    rng = np.random.default_rng(9)
    x, y = rng.random((5, 20)), rng.random((5, 20))
    x[0, :10] = 0.5  # ties
    expected = [spearmanr(a, b).statistic for a, b in zip(x, y)]
    np.testing.assert_allclose(spearman_rows(x, y), expected)
    assert np.isnan(spearman_rows(np.ones((1, 4)), y[:1, :4]))[0]


# ---------------------------------------------------------------------------------------------
# On the small R-18 pair


@pytest.fixture(scope="module")
def picture():
    rng = np.random.default_rng(10)
    image = rng.integers(0, 255, (150, 190, 3), dtype=np.uint8)
    mask = crack_mask(rng, 150, 190)
    image[mask] = 20  # a dark crack
    return image, mask


@pytest.fixture(scope="module")
def bam_capture(pair, picture):
    (model, cfg), _ = pair
    return capture(model, cfg, picture[0])


def test_a_capture_of_the_small_model_is_dissected(bam_capture, picture):
    acc = DissectionAccumulator(DissectionSettings(resamples=20))
    acc.add(bam_capture, picture[1], image_id=1)
    result = acc.result()
    assert {k: d.channels for k, d in result.layers.items()} == {"c2": 64, "c3": 128, "c4": 256, "c5": 512}
    assert set(result.correlations) == {"c2", "c3", "c4"}
    assert {c.kind for c in result.correlations.values()} == {"bam"}
    np.testing.assert_allclose(result.correlations["c3"].mean_weight, bam_capture.attention["c3"].channel, rtol=1e-6)
    assert result.attention_means.means["c4"]["combined"].shape == (256,)
    # the upsampling is Capture.to_image's
    for layer in ("c2", "c5"):
        maps = bam_capture.features[layer][:3]
        to_image = ToImage.of(maps.shape[1:], bam_capture.strides[layer], bam_capture.model_input.input_size,
                              bam_capture.image_size)
        expected = [bam_capture.to_image(m, bam_capture.strides[layer]) for m in maps]
        np.testing.assert_allclose(to_image(maps), expected, rtol=1e-5, atol=1e-5)


def outputs(model, cfg, image):
    """The model's predictions and stage outputs for one image."""
    cap = capture(model, cfg, image)
    inst = cap.instances
    return {"boxes": inst.pred_boxes.tensor, "scores": inst.scores, "masks": inst.pred_masks,
            **{k: torch.from_numpy(np.array(cap.features[k])) for k in ("c3", "c4", "c5")}}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def fake_dissection(layer: str, channels: int) -> LayerDissection:
    iou = np.linspace(0.0, 0.1, channels)[::-1].copy()  # channel 0 is the best
    zeros = np.zeros(channels)
    return LayerDissection(layer=layer, stride=8, thresholds=zeros, selected_share=zeros, pixel_share=zeros,
                           intersection=zeros.astype(int), union=zeros.astype(int), iou=iou,
                           crack_units=np.flatnonzero(iou > 0.04), ties_at_bottom=zeros.astype(bool),
                           overflow=zeros.astype(bool))


def hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_zeroing_units_leaves_the_shared_model_untouched(pair, picture):
    (model, cfg), _ = pair
    image = picture[0]
    before, hooks = outputs(model, cfg, image), hook_count(model)
    best, *randoms = unit_knockouts(model, fake_dissection("c3", 128), k=4, draws=2, seed=0)
    assert best.units == (0, 1, 2, 3) and "4 of them crack units" in best.description
    assert all(set(r.units).isdisjoint(best.units) for r in randoms) and randoms[0].units != randoms[1].units
    assert unit_knockouts(model, fake_dissection("c3", 128), k=4, draws=2, seed=0)[1].units == randoms[0].units

    knocked = best.apply(model)
    after_copy = outputs(knocked, cfg, image)
    assert not after_copy["c3"][list(best.units)].any() and after_copy["c3"][4:].any()
    assert not torch.equal(after_copy["c4"], before["c4"])
    with best.scoped(model):
        assert not outputs(model, cfg, image)["c3"][list(best.units)].any()
    assert hook_count(model) == hooks
    assert_same(outputs(model, cfg, image), before)


def constant_gates(model):
    """A copy of the model whose BAM gates are constant over images and positions (one value per
    channel): sigma(Mc * Ms) with Mc and Ms biases only."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for module in model.modules():
            if type(module).__name__ == "BAM":
                fc = module.channel_att.gate_c.gate_c_fc_final
                fc.weight.zero_()
                fc.bias.copy_(torch.linspace(-2, 2, fc.bias.numel()))
                conv = module.spatial_att.gate_s.gate_s_conv_final
                conv.weight.zero_()
                conv.bias.fill_(0.75)
    return model


def test_mean_ablation_of_a_constant_map_changes_nothing(pair, picture):
    (shared, cfg), _ = pair
    image, mask = picture
    model = constant_gates(shared)
    acc = DissectionAccumulator(DissectionSettings(layers=("c5",), resamples=10))
    acc.add(capture(model, cfg, image), mask, image_id=0)
    ablations = mean_ablations(model, acc.attention_means())
    assert [k.label for k in ablations] == ["c2 mean", "c3 mean", "c4 mean", "all mean"]
    assert all(k.kind == MEAN_ABLATION for k in ablations)
    everything = ablations[-1]
    before = outputs(model, cfg, image)
    with everything.scoped(model):
        assert_same(outputs(model, cfg, image), before)
    assert_same(outputs(everything.apply(model), cfg, image), before)

    # on the shared model, whose maps vary, the same ablation does change the maps after it
    acc = DissectionAccumulator(DissectionSettings(layers=("c5",), resamples=10))
    acc.add(capture(shared, cfg, image), mask, image_id=0)
    ablated = mean_ablations(shared, acc.attention_means(), stages=["c4"])[0]
    before = outputs(shared, cfg, image)
    changed = outputs(ablated.apply(shared), cfg, image)
    assert torch.equal(changed["c3"], before["c3"]) and not torch.equal(changed["c5"], before["c5"])
    assert_same(outputs(shared, cfg, image), before)


def test_a_variant_is_a_relabelled_copy(pair):
    (model, _), _ = pair

    @dataclass(frozen=True)
    class Spec:
        label: str
        note: str | None = None

    @dataclass(frozen=True)
    class Loaded:
        spec: Spec
        model: torch.nn.Module

        @property
        def label(self):
            return self.spec.label

    loaded = Loaded(Spec("BAM"), model)
    knockout = KnockOut(label="c3 best 2", kind="zeroed units", description="two zeroed",
                        zeroed=(("backbone.bottom_up.res3", (0, 1)),))
    made = variant(loaded, knockout)
    assert made.label == "BAM − c3 best 2" and made.spec.note == "two zeroed"
    assert made.model is not model and hook_count(made.model) == hook_count(model) + 1
    assert KnockOut.from_json(knockout.to_json()) == knockout


# ---------------------------------------------------------------------------------------------
# The table row


def test_a_knockout_row_from_two_evaluations():
    right_before = [True] * 9 + [False]
    right_after = [True] * 5 + [False, False] + [True] * 3
    paired = significance.paired_statistics(("model", "knocked out"), right_before, right_after, resamples=200)

    def entry(accuracy, recall, box, mask):
        return {"image_level": {"accuracy": accuracy, "recall": recall},
                "coco": {"bbox": {"AP": box}, "segm": {"AP": mask}}}

    before, after = entry(0.9, 1.0, 40.0, 35.0), entry(0.8, 5 / 6, 37.5, None)
    row = knockout_row(before, after, paired, label="c3 best 8", description="eight zeroed")
    assert row.delta_accuracy == pytest.approx(-10.0) and row.delta_recall == pytest.approx(-100 / 6)
    assert row.delta_box_ap == pytest.approx(-2.5) and row.delta_mask_ap is None
    assert row.mcnemar_p == paired.mcnemar_p and (row.only_before_right, row.only_after_right) == (2, 1)
    low, high = row.accuracy_interval
    assert low == pytest.approx(100 * paired.bootstrap.intervals["accuracy"].low) and low <= -10 <= high
    same = knockout_row_from_evaluation({"models": {"model": before, "c3 best 8": after}, "paired": paired})
    assert same.to_json() == {**row.to_json(), "description": ""}
    assert "| c3 best 8 | 80.00% | -10.0 | -16.7 | -2.5 | n/a |" in knockout_markdown([row])


# ---------------------------------------------------------------------------------------------
# Figures


def figure_texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_figures_state_their_settings_and_save_as_png_and_pdf(tmp_path):
    rng = np.random.default_rng(11)
    results = {}
    for label, attention in (("with BAM $\\frac$", True), ("baseline", False)):
        acc = DissectionAccumulator(DissectionSettings(layers=("c2", "c3"), resamples=50, dilation_px=3))
        for image_id, mask, features in constructed_images(rng):
            acc.add_maps(image_id, features, STRIDES, mask,
                         **({"channel_weights": {"c2": rng.random(4)}, "attention_kinds": {"c2": "bam"}}
                            if attention else {}))
        results[label] = acc.result()
    result = results["with BAM $\\frac$"]
    with_attention = layer_figure(result, "c2", label="with BAM $\\frac$")
    without = layer_figure(result, "c3")
    assert len(with_attention.axes) == 3 and len(without.axes) == 1
    text = figure_texts(with_attention)
    assert "3 px" in text and "0.5% quantile" in text and "IoU > 0.04" in text and "Spearman" in text
    assert "1.6% below the exact quantile" in text
    row = knockout_row({"image_level": {"accuracy": 0.9, "recall": 1.0}, "coco": {}},
                       {"image_level": {"accuracy": 0.8, "recall": 0.9}, "coco": {}}, None, label="c3 best 8 $x$",
                       group="best units")
    figures = {"c2": with_attention, "units": units_figure(results), "knockouts": knockout_figure([row])}
    for name, fig in figures.items():
        paths = save_figure(fig, tmp_path / "out" / name)
        assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)


def test_tiny_differences_keep_their_digits_and_never_read_minus_zero():
    from dataclasses import replace

    from evaluation.knockout import KnockOutRow, knockout_table

    row = KnockOutRow(label="c2 mean", description="", group="", accuracy=82.61, delta_accuracy=-2.17,
                      delta_recall=0.0, delta_box_ap=-0.3, delta_mask_ap=-0.0004, mcnemar_p=1.0,
                      only_before_right=1, only_after_right=0, accuracy_interval=(-6.5, -0.0),
                      box_ap_interval=(-1.5, 0.9), mask_ap_interval=(-0.04, 0.0001), confidence=0.95)
    _, (cells,) = knockout_table([row])
    assert cells[2:6] == ["-2.2", "0.0", "-0.3", "-0.0004"]
    assert cells[7:] == ["-6.5 to 0.0", "-1.5 to +0.9", "-0.04 to +0.0001"]
    assert not any(c.startswith("-0.0 ") or c == "-0.0" for c in cells)
    _, (cells,) = knockout_table([replace(row, delta_mask_ap=None, mask_ap_interval=None)])
    assert cells[5] == cells[9] == "n/a"
