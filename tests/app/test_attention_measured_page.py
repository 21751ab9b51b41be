"""The "Attention, measured" page (AppTest, the real engine and the demo pair): measure a small
labelled set, show the figure, the table, the downloads and the best and worst images."""

from demo.generator import generate_dataset
from tests.app.conftest import assert_clean, choose_server_dataset, errors, main_images, open_app


def test_attention_measured_page_on_a_small_labelled_set(tmp_path, server_folder):
    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=4, size=(160, 160))
    at = open_app("attention_measured")
    assert not errors(at)
    choose_server_dataset(at, str(tmp_path / "test" / "annotations.json"), str(tmp_path / "test" / "images"))
    at.button(key="am_run").click().run()
    assert_clean(at)
    assert not errors(at)
    results = at.session_state["alignment"].results
    measured = results.dataset.measured
    assert measured >= 1 and measured + results.dataset.skipped_no_crack == 4
    table = at.dataframe[0].value
    assert list(table["map"]) == ["attention c2", "attention c3", "attention c4",
                                  "feature c2", "feature c3", "feature c4", "feature c5"]
    assert len(table.columns) == 1 + 2 + 1  # map, two models, their difference
    assert {"JSON", "CSV", "MD", "PNG", "PDF"} <= {b.label for b in at.get("download_button")}
    shown = min(measured, 3)
    assert main_images(at) == 1 + 2 * shown  # the figure, then the best and the worst images
    at.segmented_control(key="am_measure").set_value("pointing").run()
    at.selectbox(key="am_drill_map").set_value("feature c5").run()
    assert_clean(at)
    assert main_images(at) == 1 + 2 * shown


def test_attention_measured_page_reports_a_broken_dataset(tmp_path, server_folder):
    (tmp_path / "annotations.json").write_text("{not json")
    at = open_app("attention_measured")
    choose_server_dataset(at, str(tmp_path / "annotations.json"), str(tmp_path / "missing"))
    at.button(key="am_run").click().run()
    assert_clean(at)
    (message,) = errors(at)
    assert "nothing was measured" in message and "annotations.json" in message
