"""The report says one thing (issue 23): one rule decides "significant" for each row of the paired
table, the words say the same, a disagreement between McNemar and the bootstrap interval is said
and resolved, every number has the digits its interval needs, a sample is stratified and a report
without one class says so on its first page. On constructed results."""

from __future__ import annotations

import json

import pytest

from evaluation import handout
from evaluation.formatting import format_stat, paired_markdown, paired_tables
from evaluation.handout import ModelInfo, Report
from evaluation.handout_pages import lacking_class, write_report
from evaluation.results import Bootstrap, Interval, PairedStatistics, Stat
from evaluation.significance import paired_summary, signed
from tests.results import made_evaluation


def _paired(only_a: int, only_b: int, p: float, accuracy: tuple[float, float, float], images: int = 20,
            **ap: tuple[float, float, float]) -> PairedStatistics:
    intervals = {"accuracy": Interval(*accuracy), **{k.replace("_", " "): Interval(*v) for k, v in ap.items()}}
    both = images - only_a - only_b
    return PairedStatistics(["before", "after"], images, both, only_a, only_b, 0, p,
                            Bootstrap(1000, 0, 0.95, intervals))


def _said(stats: PairedStatistics) -> dict[str, str]:
    """The table's "significant?" column, per row."""
    _, (_, rows) = paired_tables(stats)
    return {row[0]: row[-1] for row in rows}


def test_mcnemar_decides_accuracy_when_the_interval_excludes_0():
    # the report: +30.0 | +5.0 to +55.0 "yes: the interval excludes 0" above "not significant (p = 0.0703)"
    stats = _paired(1, 7, 0.0703, (0.30, 0.05, 0.55))
    said, words = _said(stats)["accuracy (points)"], paired_summary(stats)
    assert said == "no: McNemar p = 0.0703 ≥ 0.05"
    assert "not significant at 0.05" in words and "a significant difference" not in words
    assert "excludes 0, but McNemar's exact test does not find the difference significant" in words
    assert "The verdict follows McNemar" in words


def test_mcnemar_decides_accuracy_when_the_interval_includes_0():
    stats = _paired(0, 6, 0.0312, (0.06, 0.0, 0.12), images=100)
    said, words = _said(stats)["accuracy (points)"], paired_summary(stats)
    assert said == "yes: McNemar p = 0.0312 < 0.05"
    assert "a significant difference in accuracy" in words and "not significant" not in words
    assert "finds the difference significant (p = 0.0312 < 0.05), but the 95% bootstrap interval" in words
    assert "(0.0 to +12.0 points) includes 0" in words and "The verdict follows McNemar" in words


def test_agreeing_tests_need_no_explanation():
    stats = _paired(0, 8, 0.0078, (0.4, 0.2, 0.6))
    assert _said(stats)["accuracy (points)"].startswith("yes") and "follows McNemar" not in paired_summary(stats)


def test_an_interval_ending_just_below_0_reads_so_and_is_significant():
    stats = _paired(2, 2, 1.0, (0.0, -0.1, 0.1), box_AP=(-0.412, -3.3, -0.004), mask_AP=(-0.0004, -0.5, 0.5))
    _, (_, rows) = paired_tables(stats)
    box = next(r for r in rows if r[0] == "box AP")
    assert box[1:] == ["-0.4", "-3.3 to -0.004", "yes: the interval excludes 0"]
    mask = next(r for r in rows if r[0] == "mask AP")
    assert mask[1] == "-0.0004" and mask[-1] == "no: the interval includes 0"
    text = paired_markdown(stats) + paired_summary(stats) + repr(rows)
    assert "-0.0 " not in text and "-0.0|" not in text and "−0.0" not in text
    assert "AP differences whose bootstrap interval excludes 0: box AP" in paired_summary(stats)
    assert "| box AP | -0.4 | -3.3 to -0.004 | yes: the interval excludes 0 |" in paired_markdown(stats)


@pytest.mark.parametrize(("value", "text"), [(0.3, "+0.3"), (-0.004, "-0.004"), (-0.04, "-0.04"), (0.0, "0.0"),
                                             (-0.0, "0.0"), (12.345, "+12.3"), (-3.3, "-3.3"), (5e-9, "+0.000000")])
def test_signed_never_reads_minus_zero(value, text):
    assert signed(value) == text


def test_stats_keep_the_digits_their_interval_needs():
    assert format_stat(Stat(0.912, 0.9, 0.923, 30)) == "0.912 [0.900, 0.923]"
    assert format_stat(Stat(-0.01, -0.02, -0.0004, 30)) == "-0.0100 [-0.0200, -0.0004]"
    assert format_stat(Stat(-0.0, -0.0, 0.0, 3)) == "0.000 [0.000, 0.000]"


def _coco(path, cracks: list[bool]) -> None:
    images = [{"id": i + 1, "file_name": f"{i:03d}.png", "width": 32, "height": 32} for i in range(len(cracks))]
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]} for i, crack in enumerate(cracks) if crack]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "crack"}]}))


def test_a_sample_holds_as_many_images_with_cracks_as_without_spread_evenly(tmp_path):
    source = tmp_path / "annotations.json"
    _coco(source, [True] * 20 + [False] * 10)  # the first 20 all have cracks, as in the issue
    sample = json.loads(handout.sampled_dataset(source, 6, tmp_path / "out").read_text())
    ids = [im["id"] for im in sample["images"]]
    assert ids == [4, 11, 17, 22, 26, 29]  # three with cracks over 1..20, three without over 21..30
    assert {a["image_id"] for a in sample["annotations"]} == {4, 11, 17}
    few = json.loads(handout.sampled_dataset(source, 25, tmp_path / "out").read_text())
    assert sum(im["id"] > 20 for im in few["images"]) == 10 and len(few["images"]) == 25  # all 10 clean ones
    assert handout.sampled_dataset(source, None, tmp_path) == source
    assert handout.sampled_dataset(source, 30, tmp_path) == source


def _report(tmp_path, with_cracks: int, without: int) -> Report:
    ev = made_evaluation({"before": {}, "after": {}}, dataset={
        "num_images": with_cracks + without, "with_instances": with_cracks, "without_instances": without},
        paired=_paired(1, 7, 0.0703, (0.30, 0.05, 0.55)).to_json())
    info = ModelInfo("before", tmp_path / "c.yaml", None, "ResNet-18-FPN", 10, 0, 0, ("crack",))
    return Report(tmp_path / "report.pdf", tmp_path / "report.html", [info, info], ev, None)


def test_a_report_without_images_free_of_cracks_says_so_on_its_first_page(tmp_path):
    report = _report(tmp_path, 20, 0)
    write_report(report, limit=20)
    html = report.html.read_text()
    first = html[:html.index('<section id="models">')]  # before the first section: the first page's text
    assert "Every one of these 20 images has a crack" in first and "TN = FP = 0" in first
    assert "as many with cracks as without" in first
    assert report.pages == 3  # models, before / after, the paired statistics
    assert lacking_class(_report(tmp_path, 0, 5).evaluation).startswith("None of these 5 images has a crack")
    assert lacking_class(_report(tmp_path, 3, 5).evaluation) is None


def test_the_reports_table_and_words_agree(tmp_path):
    report = _report(tmp_path, 12, 8)
    write_report(report)
    html = report.html.read_text()
    assert "no: McNemar p = 0.0703 ≥ 0.05" in html and "not significant at 0.05" in html
    assert "yes: the interval excludes 0" not in html.split("accuracy (points)")[1].split("</tr>")[0]
    assert "Accuracy: McNemar&#x27;s exact test decides" in html and "The verdict follows McNemar" in html
    assert "(all 20 images)" in html and "Every one of" not in html
