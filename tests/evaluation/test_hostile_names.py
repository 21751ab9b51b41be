"""Names from datasets and visitors written into the reports stay text (issue 22): CSV cells that
start a formula are neutralised, Markdown and HTML are escaped, figure titles are not mathtext."""

import csv

from evaluation.evaluate import image_level_counts, write_reports
from evaluation.formatting import counts_markdown, evaluation_markdown
from evaluation.significance import pairing_from_counts
from evaluation.text_safety import csv_cell, figure_text, markdown_code, markdown_text
from tests.results import made_evaluation

HOSTILE_LABELS = ("=2+5", "<img src=x onerror=alert(1)> [click](http://x) | *b* `c`")


def test_csv_cells_starting_a_formula_are_neutralised():
    assert [csv_cell(v) for v in ("=2+5", "+1", "-1", "@SUM(A1)", "\tx", "plain", "a=b", -1.5, None)] == [
        "'=2+5", "'+1", "'-1", "'@SUM(A1)", "'\tx", "plain", "a=b", -1.5, None]


def test_markdown_text_is_text():
    text = markdown_text(HOSTILE_LABELS[1])
    assert "<" not in text and "&lt;img src=x onerror=alert\\(1\\)&gt;" in text
    assert "\\[click\\]\\(http://x\\) \\| \\*b\\* \\`c\\`" in text
    assert markdown_text("a\nb & c") == "a b &amp; c"
    assert markdown_code("x`y") == "``x`y``" and markdown_code("`z") == "`` `z ``"


def _results(labels):
    level = image_level_counts([True, False], [0.9, 0.1], threshold=0.5).to_json()
    coco = {"bbox": {"AP": 50.0, "AP50": 80.0, "AP75": None}, "segm": {"AP": 40.0, "AP50": 70.0, "AP75": 10.0}}
    model = {"config": "c`.yaml", "weights": "<b>w</b>.pth", "model": "ResNet-18-FPN", "image_level": level,
             "coco": coco, "seconds_per_image": 0.1}
    return made_evaluation({label: model for label in labels},
                           dataset={"json": "data/[x](e).json", "num_images": 2, "with_instances": 1,
                                    "without_instances": 1})


def test_evaluation_reports_keep_hostile_labels_as_text(tmp_path):
    write_reports(_results(HOSTILE_LABELS), [], tmp_path)
    with (tmp_path / "evaluation.csv").open(newline="") as f:
        header = next(csv.reader(f))
    assert header == ["metric", "'=2+5", HOSTILE_LABELS[1]]
    md = (tmp_path / "evaluation.md").read_text()
    assert "<img" not in md and "<b>" not in md.replace("`<b>w</b>.pth`", "")
    assert "# Evaluation on \\[x\\]\\(e\\).json" in md
    assert f"| | =2+5 | {markdown_text(HOSTILE_LABELS[1])} |" in md
    assert "config ``c`.yaml``, weights `<b>w</b>.pth`" in md  # code spans: shown as written, never HTML
    assert evaluation_markdown(_results(["a|b"])).count("a\\|b") == 2  # the table's column and the model list


def test_counts_markdown_escapes_its_labels():
    text = counts_markdown(pairing_from_counts({"tp": 38, "tn": 81, "fp": 0, "fn": 11},
                                               {"tp": 41, "tn": 81, "fp": 0, "fn": 8}), ("[a](x)", "<b>"))
    assert "[a](x)" not in text and "<b>" not in text and "only \\[a\\]\\(x\\) right" in text


def test_figure_text_is_not_mathtext():
    from matplotlib.figure import Figure

    from viz.figures import figure_bytes

    fig = Figure()
    fig.suptitle(figure_text("$\\frac$.png"))  # unescaped: matplotlib's parser raises ValueError on saving
    assert figure_bytes(fig, "png").startswith(b"\x89PNG")
    assert figure_text("a $5 b") == "a \\$5 b"
