"""What a person sees on the pages: the attention statistics and charts, the Grad-CAM page's
layers and instance match, the detection changes table, and an evaluation kept for a new session."""

from __future__ import annotations

import json
import re

import pandas as pd

from tests.app.conftest import assert_clean, choose_server_dataset, main_images, open_app


def test_attention_stats_caption_is_literal_markdown_and_the_table_is_narrow():
    at = open_app("attention")
    (caption,) = [c.value for c in at.caption if "channel_" in c.value]
    outside_code = re.sub(r"`[^`]*`", "", caption)
    assert "*" not in outside_code and "_" not in outside_code  # nothing for Markdown to turn into italics
    stats = at.dataframe[0].value
    assert list(stats.columns) == ["statistic", "c2", "c3", "c4"]  # stages as columns: fits the page width
    assert {"channel_max", "spatial_area_above_half", "top channels"} <= set(stats["statistic"])


def test_attention_charts_keep_their_order_when_stages_are_toggled():
    at = open_app("attention")
    at.button_group(key="att_stages").set_value(["c3", "c4"]).run()
    assert_clean(at)
    charts = at.main.get("vega_lite_chart")
    assert len(charts) == 2
    for chart in charts:
        spec = json.loads(chart.proto.spec)
        # sorted by weight in the spec itself, not by the order of rows a re-used chart once held
        assert spec["encoding"]["x"]["sort"] == {"field": "weight", "order": "descending"}


def test_attention_no_stage_chosen_shows_no_stage():
    at = open_app("attention")
    at.button_group(key="att_stages").set_value([]).run()
    assert_clean(at)
    assert main_images(at) == 0 and not at.main.get("vega_lite_chart")
    assert any("No stage chosen" in i.value for i in at.info)


def _gradcam_page():
    at = open_app()
    at.sidebar.slider(key="threshold").set_value(0.0).run()  # every detection: some matched, some not
    at.switch_page("app/pages/gradcam.py").run()
    at.toggle(key="cam_sanity").set_value(False).run()
    assert_clean(at)
    return at


def _other_side(at):
    """The "model without attention" instance picker (one per chosen instance)."""
    (picker,) = [s for s in at.selectbox if s.label == "Instance (model without attention)"]
    return picker


def _chosen(picker) -> str:
    """What the picker shows: "match", "box" or an instance label (a widget new in this run has
    no state yet: it shows its default)."""
    try:
        value = picker.value
    except KeyError:
        shown = picker.options[picker.proto.default[0]]
        value = "match" if shown.startswith("its match") else "box" if shown.startswith("the same box") else shown
    return value


def test_gradcam_offers_only_layers_both_models_have_and_follows_the_match():
    at = _gradcam_page()
    layers = at.selectbox(key="cam_layer").options
    assert "c4" in layers and not [n for n in layers if n.endswith("_pre")]  # the baseline has no c*_pre
    matched = unmatched = None
    for i in range(len(at.selectbox(key="cam_instance").options)):
        at.selectbox(key="cam_instance").select_index(i).run()
        options = _other_side(at).options
        if options[0].startswith("its match"):
            matched = matched if matched is not None else i
        else:
            unmatched = unmatched if unmatched is not None else i
        if matched and unmatched:
            break
    assert None not in (matched, unmatched), "the demo image needs a matched and an unmatched instance at threshold 0"
    at.selectbox(key="cam_instance").select_index(unmatched).run()
    assert _chosen(_other_side(at)) == "box"
    at.selectbox(key="cam_instance").select_index(matched).run()
    assert_clean(at)
    assert _chosen(_other_side(at)) == "match"  # its match, not the "same box" left from the other instance


def test_detection_changes_table_shows_a_dash_where_a_model_has_no_detection():
    import pyarrow as pa

    at = open_app()
    at.sidebar.slider(key="threshold").set_value(0.0).run()
    table = at.dataframe[0]
    shown = pa.ipc.open_stream(table.proto.arrow_data.styler.display_values).read_all().to_pandas()
    one_sided = shown[shown["change"] != "kept"]
    assert len(one_sided) and "None" not in shown.to_string() and "nan" not in shown.to_string().lower()
    assert (one_sided["mask IoU"] == "–").all()


def _evaluate_on(at, folder):
    choose_server_dataset(at, str(folder / "test" / "annotations.json"), str(folder / "test" / "images"))
    return at


def test_evaluate_results_are_kept_for_a_new_session_and_browsable(tmp_path, server_folder, evaluation_cache,
                                                                   count_calls):
    import evaluation.evaluate
    from demo.generator import generate_dataset

    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=4, size=(160, 160))
    at = _evaluate_on(open_app("evaluate"), tmp_path)
    at.button(key="eval_run").click().run()
    assert_clean(at)
    # every file the Markdown report names is offered
    offered = {b.label for b in at.get("download_button")}
    assert "Disagreements (JSON)" in offered
    assert "disagreements.json" in at.session_state["evaluation"].report("evaluation.md").decode()

    runs = count_calls(evaluation.evaluate, "evaluate")
    again = _evaluate_on(open_app("evaluate"), tmp_path)  # a new session: nothing in its state
    assert_clean(again)
    assert runs.calls == 0 and any("without recomputing" in c.value for c in again.caption)
    assert again.dataframe[0].value.equals(at.dataframe[0].value)

    # browsing: the model's own verdicts, by score; the precision-recall curves of both models
    images = again.session_state["evaluation"].images
    assert len(images) == 4 and all(len(im["max_scores"]) == 2 for im in images)
    charts = [json.loads(c.proto.spec) for c in again.main.get("vega_lite_chart")]
    (curve,) = [c for c in charts if "layer" in c]
    assert {row["model"] for row in curve["layer"][0]["data"]["values"]} == set(
        again.session_state["evaluation"].results.labels)
    (browse,) = [d.value for d in again.dataframe if "file_name" in d.value.columns]
    assert len(browse) == 4
    again.button_group(key="eval_outcomes").set_value(["TN"]).run()
    assert_clean(again)
    (browse,) = [d.value for d in again.dataframe if "file_name" in d.value.columns] or [pd.DataFrame()]
    label = again.selectbox(key="eval_model").value
    assert (browse.get(label, pd.Series(dtype=str)) == "TN").all()
