"""The "Inside the attention" page (AppTest, the real engine and the demo pair): dissect a small
labelled set, show the units figure, the per-stage table, a layer's figure and a channel's crops;
the result kept on disk, shown again without recomputing, and offered to the report to hand out."""

import pytest

from app import inside_attention
from demo.generator import generate_dataset
from tests.app.conftest import assert_clean, choose_server_dataset, errors, main_images, open_app


@pytest.fixture
def kept(tmp_path, monkeypatch):
    """Dissections kept under tmp_path, not in the checkout's output/."""
    monkeypatch.setattr(inside_attention, "CACHE_ROOT", tmp_path / "kept")
    return tmp_path / "kept"


def test_inside_attention_page_on_a_small_labelled_set(tmp_path, server_folder, kept):
    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=4, size=(160, 160))
    at = open_app("inside_attention")
    assert not errors(at)
    choose_server_dataset(at, tmp_path / "test" / "annotations.json", tmp_path / "test" / "images")
    assert not at.toggle(key="ia_knockouts").value  # off by default: they cost evaluation passes
    at.button(key="ia_run").click().run()
    assert_clean(at)
    assert not errors(at)
    report = at.session_state["dissection"].report
    assert report.labels == ["Mask R-CNN (demo baseline)", "Mask R-CNN + BAM (demo)"]  # baseline first
    assert report.dataset.num_images == 4 and report.knockout_settings is None
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["c2", "c3", "c4", "c5"]
    top_k = report.first.settings.top_k  # the images where the channel peaks (all 4 here)
    assert main_images(at) == 2 + min(top_k, 4)  # the units figure, the layer's figure, the crops
    assert {"JSON", "CSV", "MD"} <= {b.label for b in at.get("download_button")}
    assert any("white square" in c.value for c in at.caption)

    at.selectbox(key="ia_layer").set_value("c5").run()  # no attention at c5: a one-panel figure
    second = int(report.models[report.labels[-1]].result.layers["c5"].ranking()[1])
    at.selectbox(key="ia_channel").set_value(second).run()
    assert_clean(at)
    picker = at.selectbox(key="ia_channel")  # in crack-IoU order, each with its rank
    assert picker.value == second and picker.format_func(second).endswith("(rank 2)")
    assert main_images(at) == 2 + min(top_k, 4)

    again = open_app("inside_attention")  # another session: the kept result, not a new run
    choose_server_dataset(again, tmp_path / "test" / "annotations.json", tmp_path / "test" / "images")
    assert_clean(again)
    assert again.session_state["dissection"].report.to_json() == report.to_json()
    assert any("Kept from an earlier run" in c.value for c in again.caption)

    again.toggle(key="ia_knockouts").set_value(True).run()  # other settings: not the kept result
    assert {"ia_k", "ia_draws"} <= {w.key for w in again.number_input}
    assert any("from an earlier run with other" in w.value for w in again.warning)

    evaluate = open_app("evaluate")  # its report to hand out takes the kept dissection of the same set
    choose_server_dataset(evaluate, tmp_path / "test" / "annotations.json", tmp_path / "test" / "images")
    assert_clean(evaluate)
    assert any("Adds the latest dissection" in c.value for c in evaluate.caption)
