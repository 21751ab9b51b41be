"""The Evaluate page's "Report to hand out" block (AppTest, the real engine and the demo pair): one
click writes the PDF and HTML of a tiny labelled set and offers both as downloads, in a panel that
stays open; a finished evaluation is reused, not run again."""

import json

from demo.generator import generate_dataset
from tests.app.conftest import assert_clean, choose_server_dataset, errors, open_app


def _panel(at):
    (panel,) = [e for e in at.main.expander if e.label == "Report to hand out (PDF and HTML)"]
    return panel


def test_the_button_writes_the_report_and_offers_it(tmp_path, server_folder):
    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=2, size=(160, 160))
    at = open_app("evaluate")
    choose_server_dataset(at, str(tmp_path / "test" / "annotations.json"), str(tmp_path / "test" / "images"))
    assert not _panel(at).proto.expanded  # closed until asked for
    at.number_input(key="handout_examples").set_value(1).run()
    at.button(key="handout_run").click().run()
    assert_clean(at)
    assert not errors(at)
    made = at.session_state["handout_report"]
    assert made["pdf"].startswith(b"%PDF-") and made["pages"] == 6  # 5 pages + 1 example
    assert b'<section id="examples">' in made["html"] and made["html"].count(b"data:image/png;base64,") == 2
    panel = _panel(at)
    assert panel.proto.expanded  # open: its progress, then its downloads in sight
    assert {"Report (PDF)", "Report (HTML)"} <= {b.label for b in panel.get("download_button")}
    assert made["label"] in panel.caption[-1].value.replace("\\", "")


def test_the_report_reuses_the_finished_evaluation_of_all_images(tmp_path, server_folder, count_calls):
    import evaluation.evaluate

    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=3, size=(160, 160))
    at = open_app("evaluate")
    choose_server_dataset(at, str(tmp_path / "test" / "annotations.json"), str(tmp_path / "test" / "images"))
    at.button(key="eval_run").click().run()
    assert_clean(at)
    # the precision-recall charts: two clearly distinct colours, the models' full names in the legend
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        colours = [layer["encoding"]["color"] for layer in spec.get("layer", [spec])]
        for colour in colours:
            assert colour["scale"]["range"] == ["#0072B2", "#E69F00"]
            assert colour["scale"]["domain"] == at.session_state["evaluation"].results.labels
        assert colours[0]["legend"]["labelLimit"] == 0
    assert "Reuses the evaluation below (all 3 images" in _panel(at).caption[0].value
    evaluations = count_calls(evaluation.evaluate, "evaluate")
    at.number_input(key="handout_examples").set_value(1).run()
    at.button(key="handout_run").click().run()
    assert_clean(at)
    assert not errors(at) and evaluations.calls == 0  # the page's evaluation, not a new one
    html = at.session_state["handout_report"]["html"].decode()
    assert "(all 3 images)" in html.split('<section id="models">')[0]
