"""The Evaluate page's "Report to hand out" block (AppTest, the real engine and the demo pair): one
click writes the PDF and HTML of a tiny labelled set and offers both as downloads."""

from demo.generator import generate_dataset
from tests.app.conftest import assert_clean, errors, open_app


def test_the_button_writes_the_report_and_offers_it(tmp_path, server_folder):
    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=2, size=(160, 160))
    at = open_app("evaluate")
    at.radio(key="eval_source").set_value("A COCO dataset on the server").run()
    at.text_input(key="eval_json").set_value(str(tmp_path / "test" / "annotations.json"))
    at.text_input(key="eval_images").set_value(str(tmp_path / "test" / "images")).run()
    at.number_input(key="handout_examples").set_value(1).run()
    at.button(key="handout_run").click().run()
    assert_clean(at)
    assert not errors(at)
    made = at.session_state["handout_report"]
    assert made["pdf"].startswith(b"%PDF-") and made["pages"] == 6  # 5 pages + 1 example
    assert b'<section id="examples">' in made["html"] and made["html"].count(b"data:image/png;base64,") == 2
    assert {"Report (PDF)", "Report (HTML)"} <= {b.label for b in at.get("download_button")}
