"""One AppTest per page, on the real engine: each renders, shows pictures and numbers, and its
display controls answer from the caches without running the network again."""

from __future__ import annotations

import re

import viz.analysis
import viz.gradcam
from app import assets
from models.zoo import NAMED
from tests.app.conftest import assert_clean, choose_server_dataset, colorbars, errors, main_images, open_app


def test_first_launch_shows_the_demo_pair_on_the_first_gallery_image():
    at = open_app()
    assert [t.value for t in at.title] == ["Detections"]
    assert not errors(at)
    first = assets.sample_images()[0].name
    assert at.sidebar.selectbox(key="image_choice").value == first
    assert any(first in c.value for c in at.caption)
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown) + " ".join(c.value for c in at.sidebar.caption)
    assert NAMED["demo-bam"].label in sidebar_text and "BAM after res2, res3, res4, fusion product" in sidebar_text
    assert "no attention (baseline)" in sidebar_text
    weights_missing = not NAMED["demo-bam"].weights.is_file()
    assert any("random weights" in w.value for w in at.warning) == weights_missing
    # the gallery, the ground truth of a demo sample, and both models' detections
    assert main_images(at) >= len(at.sidebar.selectbox(key="image_choice").options) + 3
    metrics = {m.label: m.value for m in at.metric}
    assert {"Detections", "Kept", "Gained", "Lost"} <= set(metrics)
    assert metrics["Kept"].isdigit()


def test_detections_threshold_and_gallery_do_not_rerun_the_network(count_calls):
    at = open_app()
    analyze = count_calls(viz.analysis, "analyze")
    table_before = at.dataframe[0].value if at.dataframe else None
    at.sidebar.slider(key="threshold").set_value(0.05).run()
    assert_clean(at)
    assert analyze.calls == 0
    rows = at.dataframe[0].value
    assert {"change", "score with", "score without", "score change", "mask IoU"} <= set(rows.columns)
    assert table_before is None or len(rows) >= len(table_before)  # a lower threshold keeps more
    at.toggle(key="det_truth").set_value(False).run()
    assert_clean(at)
    assert analyze.calls == 0


def test_choosing_another_gallery_image_analyses_it_once(count_calls):
    at = open_app()
    analyze = count_calls(viz.analysis, "analyze")
    second = at.sidebar.selectbox(key="image_choice").options[1]
    at.button(key="gallery_1").click().run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="image_choice").value == second
    first_visit = analyze.calls
    assert first_visit in (0, 2)  # 0 when an earlier test analysed it already
    at.switch_page("app/pages/attention.py").run()
    at.switch_page("app/pages/detections.py").run()
    assert analyze.calls == first_visit


def test_attention_page_per_stage_maps_and_controls(count_calls):
    at = open_app("attention")
    assert not errors(at)
    text = " ".join(m.value for m in at.markdown)
    assert "fusion **product**" in text
    for stage in ("c2", "c3", "c4"):
        assert f"#### {stage}" in text
    assert main_images(at) == 12  # 4 maps x 3 stages
    scales = colorbars(at)  # a colour bar under each map; attention on its absolute range by default
    assert len(scales) == 12 and scales.count("absolute [0, 1]") == 6
    assert len(at.main.get("vega_lite_chart")) == 3  # a channel-attention chart per stage
    stats = at.dataframe[0].value
    assert list(stats.columns) == ["statistic", "c2", "c3", "c4"]
    assert (stats[stats["statistic"] == "channel_max"].iloc[0, 1:].astype(float) <= 1).all()
    analyze = count_calls(viz.analysis, "analyze")
    at.selectbox(key="att_cmap").set_value("viridis").run()
    at.slider(key="att_alpha").set_value(0.8).run()
    at.toggle(key="att_on_image").set_value(False).run()
    at.button_group(key="att_stages").set_value(["c3"]).run()
    assert_clean(at)
    assert analyze.calls == 0 and main_images(at) == 4
    at.toggle(key="att_stretch").set_value(True).run()
    assert colorbars(at).count("stretched to this map's min–max") == 2 and len(colorbars(at)) == 4


def test_feature_maps_page_grid_layers_and_one_channel(count_calls):
    at = open_app("features")
    assert not errors(at)
    assert main_images(at) == 3  # the grid, one channel large, the concepts
    assert any("top channels #" in m.value for m in at.markdown)  # the concepts' legend
    analyze = count_calls(viz.analysis, "analyze")
    layers = {option.split(":")[0] for option in at.selectbox(key="feat_layer").options}
    assert {"c2", "c3_pre", "c5", "p2", "p6"} <= layers
    at.radio(key="feat_order").set_value("attention weight").run()
    at.slider(key="feat_k").set_value(8).run()
    assert len(at.selectbox(key="feat_channel").options) == 8
    at.selectbox(key="feat_layer").set_value("p3").run()
    assert at.radio(key="feat_order").options == ["activation"]  # no attention weights at p3
    at.button_group(key="feat_model").set_value(1).run()  # the baseline
    assert_clean(at)
    at.slider(key="feat_dff_k").set_value(3).run()
    assert_clean(at)
    assert analyze.calls == 0 and main_images(at) == 3
    assert any("channel" in c.value for c in at.caption)
    assert sum("concept " in m.value for m in at.markdown) == 1 and "concept 3:" in next(
        m.value for m in at.markdown if "concept " in m.value)


def test_gradcam_page_both_models_with_sanity_checks(count_calls):
    at = open_app()
    at.sidebar.slider(key="threshold").set_value(0.05).run()  # an instance for random weights too
    at.switch_page("app/pages/gradcam.py").run()
    assert_clean(at)
    if at.info and "detects nothing" in at.info[-1].value:
        return  # nothing to explain with these weights
    assert main_images(at) >= 2
    checks = [s.value for s in at.success] + [w.value for w in at.warning]
    assert len(checks) == 2 and all("randomized heads" in c for c in checks)
    cams = count_calls(viz.gradcam, "instance_cam")
    at.slider(key="cam_alpha").set_value(0.7).run()
    at.selectbox(key="cam_cmap").set_value("inferno").run()
    assert_clean(at)
    assert cams.calls == 0
    at.selectbox(key="cam_layer").set_value("c3").run()
    assert_clean(at)
    assert cams.calls >= 2  # a new layer: new CAMs (and their sanity checks)


def test_compare_page_differences_and_presentation_export(count_calls):
    at = open_app("compare")
    assert not errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Detections without"].isdigit() and metrics["Detections with"].isdigit()
    assert main_images(at) >= 2 + 4  # detections, then c2..c5 differences
    assert sum(": with − without" in m.value for m in at.markdown) == 4
    shared = [s for s in colorbars(at) if s.startswith("shared by every stage")]
    assert len(shared) == 4 and len(set(shared)) == 1  # one scale for every stage, stated
    analyze = count_calls(viz.analysis, "analyze")
    at.toggle(key="cmp_on_image").set_value(True).run()
    at.radio(key="cmp_contrast").set_value("full ±1").run()
    assert analyze.calls == 0
    at.button(key="deck_build").click().run()
    assert_clean(at)
    pdf, archive, pages = at.session_state["deck"]
    assert pdf.startswith(b"%PDF") and archive.startswith(b"PK") and pages == 1
    (width, height), = {tuple(map(float, box)) for box in re.findall(rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+)", pdf)}
    assert abs(width / height - 16 / 9) < 0.01  # presentation slides, not square pages
    labels = [b.label for b in at.get("download_button") if "Presentation" in b.label]
    assert labels == ["Presentation: 1 slide, PDF", "Presentation: 1 slide, PNG in a ZIP"]  # one: no plural
    assert not [b for b in at.button if b.label == "Cancel"]  # the job is over


def test_compare_page_cam_difference_of_a_matched_instance():
    at = open_app()
    at.sidebar.slider(key="threshold").set_value(0.0).run()  # every detection: some are matched
    at.switch_page("app/pages/compare.py").run()
    assert_clean(at)
    if {m.label: m.value for m in at.metric}["Kept"] == "0":
        return  # these weights match nothing
    assert main_images(at) == 2 + 4 + 3  # detections, stage differences, two CAMs and their difference
    at.toggle(key="deck_cams").set_value(True).run()
    at.button(key="deck_build").click().run()
    assert_clean(at)
    assert at.session_state["deck"][0].startswith(b"%PDF")


def test_evaluate_page_on_a_small_labelled_set(tmp_path, server_folder):
    from demo.generator import generate_dataset

    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=3, size=(160, 160))
    at = open_app("evaluate")
    assert not errors(at)
    choose_server_dataset(at, str(tmp_path / "test" / "annotations.json"), str(tmp_path / "test" / "images"))
    at.button(key="eval_run").click().run()
    assert_clean(at)
    assert not errors(at)
    table = at.dataframe[0].value
    assert list(table["metric"][:5]) == ["images", "TP", "TN", "FP", "FN"]
    assert {"accuracy", "precision", "recall", "box AP", "mask AP"} <= set(table["metric"])
    assert list(table.columns[1:]) == at.session_state["evaluation"].results.labels
    assert (table[table["metric"] == "images"].iloc[0, 1:] == "3").all()
    labels = [b.label for b in at.get("download_button")]
    assert {"Table (CSV)", "Table (MD)", "Table (JSON)"} <= set(labels)
    # the paired statistics of the two models on these images
    paired = at.session_state["evaluation"].results.paired
    assert at.dataframe[1].value.iloc[-1, 0] == "McNemar exact p (two-sided)"
    assert list(at.dataframe[2].value["difference"][:2]) == ["accuracy (points)", "box AP"]
    assert paired.summary in [m.value for m in at.markdown]
    # the instance-level precision-recall curves, from pycocotools
    curves = at.session_state["evaluation"].results.models
    assert all(len(m.pr_curve["recall"]) == 101 for m in curves.values())
    assert "Precision and recall, instance level" in [h.value for h in at.subheader]


def test_evaluate_page_says_what_counts_alone_allow():
    at = open_app("evaluate")
    # not pre-filled with another experiment's counts under the demo models' names
    assert not at.table and [n.value for n in at.number_input if n.key.startswith("counts_")] == [0] * 8
    shown = " ".join(m.value for m in at.main.markdown)
    assert "**Before**" in shown and "**After**" in shown
    assert all(NAMED[name].label not in shown for name in ("demo-bam", "demo-baseline"))
    at.button(key="counts_fill_experiment").click().run()
    shown = " ".join(m.value for m in at.main.markdown)
    assert "**Mask R-CNN (the experiment)**" in shown and "**with BAM (the experiment)**" in shown
    # the BAM crack experiment: 3 gained and none lost at best, p = 0.25
    best, worst = at.table[0].value.to_dict("records")
    assert list(best.values()) == [0, 3, "0.25"] and list(worst.values()) == [8, 11, "0.648"]
    assert any("Even the best case is not significant at 0.05" in m.value for m in at.markdown)
    at.number_input(key="counts_b_tn").set_value(80).run()  # no longer the same images
    assert_clean(at)
    assert any("not of the same images" in e for e in errors(at))


def test_evaluate_page_reports_a_broken_dataset(tmp_path, server_folder):
    (tmp_path / "annotations.json").write_text("{not json")
    at = open_app("evaluate")
    choose_server_dataset(at, str(tmp_path / "annotations.json"), str(tmp_path / "missing"))
    at.button(key="eval_run").click().run()
    assert_clean(at)
    (message,) = errors(at)
    assert "nothing was evaluated" in message and "annotations.json" in message
