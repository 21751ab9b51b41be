"""`python -m app report`: one PDF and one HTML on a before / after pair, end to end on two small
untrained models and two images of the tiny dataset; the pure parts on constructed results."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

import models
from app.cli import main
from evaluation import handout
from evaluation.formatting import auroc_rows, auroc_summary, verdict
from tests.coco import BAM_CONFIG, SMALL
from tests.results import made_alignment


@pytest.fixture(scope="module")
def random_bam(tmp_path_factory):
    """An untrained R-18 BAM model saved as (config.yaml, weights.pth), as `random_baseline`."""
    out = tmp_path_factory.mktemp("bam")
    cfg = models.get_config(BAM_CONFIG, SMALL + ["TEST.DETECTIONS_PER_IMAGE", "10"])
    torch.manual_seed(2)
    (out / "config.yaml").write_text(cfg.dump())
    return out / "config.yaml", models.save_weights(models.build_model(cfg), out / "weights.pth")


@pytest.fixture(scope="module")
def report(tmp_path_factory, random_baseline, random_bam, shared_coco):
    json_path, image_dir = shared_coco
    out = tmp_path_factory.mktemp("report")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    args = ["report", "--models", *(f"{c}:{w}" for c, w in (random_baseline, random_bam)),
            "--labels", "plain", "with BAM", "--json", str(json_path), "--images", str(image_dir),
            "--out", str(out), "--limit", "2", "--example-count", "1", "--resamples", "50",
            "--threshold", "0.05", "--device", "cpu"]  # a low threshold: the untrained models get a Grad-CAM
    status = main(args)
    torch.set_num_threads(threads)
    return status, out, args


def test_the_pdf_has_every_page(report):
    status, out, _ = report
    assert status == 0
    data = (out / handout.REPORT_PDF).read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    # models, before / after, paired statistics, attention figure, attention table, one example
    assert len(re.findall(rb"/Type /Page\b", data)) == 6
    if shutil.which("pdftoppm"):  # poppler renders every page, and none is blank
        subprocess.run(["pdftoppm", "-png", "-r", "30", str(out / handout.REPORT_PDF), str(out / "page")],
                       check=True)
        pages = sorted(out.glob("page-*.png"))
        assert len(pages) == 6
        for page in pages:
            assert np.asarray(Image.open(page).convert("L")).std() > 5, page.name


def test_the_html_is_self_contained(report):
    _, out, _ = report
    text = (out / handout.REPORT_HTML).read_text(encoding="utf-8")
    for section in ("models", "before-after", "attention", "examples"):
        assert f'<section id="{section}">' in text
    assert "plain" in text and "with BAM" in text and "McNemar" in text
    assert "src=\"http" not in text and "<link" not in text  # nothing fetched from elsewhere
    pictures = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(pictures) == 2  # the attention figure and one example
    for picture in pictures:
        with Image.open(io.BytesIO(base64.b64decode(picture))) as image:
            assert image.format == "PNG" and image.width > 500


def test_the_runs_behind_it_are_a_sample(report):
    _, out, _ = report
    evaluation = json.loads((out / "report_parts" / "evaluation" / "evaluation.json").read_text())
    attention = json.loads((out / "report_parts" / "attention" / "attention_report.json").read_text())
    assert evaluation["dataset"]["num_images"] == 2 and attention["dataset"]["num_images"] == 2
    assert list(evaluation["models"]) == ["plain", "with BAM"] and "paired" in evaluation
    assert "attention c3" in attention["summary"]["with BAM"] and "attention c3" not in attention["summary"]["plain"]


def test_earlier_runs_are_reused_and_must_match(report, tmp_path, capsys):
    _, out, args = report
    parts = out / "report_parts"
    reuse = args[:args.index("--out")] + ["--out", str(tmp_path / "again"), "--example-count", "1",
                                          "--evaluation", str(parts / "evaluation" / "evaluation.json"),
                                          "--attention", str(parts / "attention" / "attention_report.json")]
    assert main(reuse) == 0
    assert (tmp_path / "again" / handout.REPORT_PDF).stat().st_size > 10_000
    assert not (tmp_path / "again" / "report_parts" / "evaluation").exists()  # not run again
    relabelled = [a if a != "plain" else "other" for a in reuse]
    assert main(relabelled) == 2
    err = capsys.readouterr().err
    assert "error: the evaluation file evaluation.json compares plain, with BAM" in err and "Traceback" not in err


def test_bad_input_is_one_sentence(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path), "--json", "x.json"]) == 2
    assert "give both --json and --images" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path), "--evaluation", str(tmp_path / "missing.json")]) == 2
    assert "--evaluation: file not found" in capsys.readouterr().err


def _stat(mean, low, high, n=30):
    return {"mean": mean, "low": low, "high": high, "n": n}


def _attention(diff: dict):
    return made_alignment({"A": {"feature c2": {"auroc": _stat(0.8, 0.7, 0.9)}},
                           "B": {"feature c2": {"auroc": _stat(0.82, 0.7, 0.9)},
                                 "attention c2": {"auroc": _stat(0.7, 0.6, 0.8)}}},
                          {"B - A": {"feature c2": {"auroc": diff}}}, measured=diff["n"], skipped=1)


def test_attention_differences_are_called_what_they_are():
    not_significant = _attention(_stat(0.02, -0.01, 0.05))
    rows = dict((r[0], r[-1]) for r in auroc_rows(not_significant)[1])
    assert rows == {"attention c2": "only one model has it", "feature c2": "no: the interval includes 0"}
    assert "None of the 1 paired AUROC differences is significant" in auroc_summary(not_significant)
    significant = _attention(_stat(-0.1, -0.15, -0.05))
    assert "1 of 1 paired AUROC differences (B - A) have an interval that excludes 0: feature c2 -0.100" \
        in auroc_summary(significant)
    assert verdict(None, None, 30) == "no interval (too few images)"
    # an interval of 4 images that excludes 0 is no verdict: a bootstrap cannot hold what it never drew
    few = _attention(_stat(-0.1, -0.15, -0.05, n=4))
    rows = dict((r[0], r[-1]) for r in auroc_rows(few)[1])
    assert rows["feature c2"] == "too few images to tell (4; at least 10)"
    assert "Too few images to tell" in auroc_summary(few)


def test_sampled_dataset_and_examples(shared_coco, tmp_path):
    json_path, image_dir = shared_coco
    assert handout.sampled_dataset(json_path, None, tmp_path) == json_path
    assert handout.sampled_dataset(json_path, 100, tmp_path) == json_path
    sample = json.loads(handout.sampled_dataset(json_path, 3, tmp_path).read_text())
    assert [im["id"] for im in sample["images"]] == [2, 4, 6]  # two of 1..4 (cracks), one of 5 and 6 (none)
    assert sample["annotations"] and {a["image_id"] for a in sample["annotations"]} <= {2, 4}
    picked = handout.pick_examples(json_path, image_dir, 2)  # images 1..4 have cracks, 5 and 6 none
    assert [p.name for p in picked] == ["img_000.png", "img_003.png"]
    assert len(handout.pick_examples(json_path, image_dir, 10)) == 4


def test_the_demo_statement_heads_a_report_of_the_demo_models_only(report):
    from types import SimpleNamespace

    from demo.statement import DEMO_MODELS, DEMO_STATEMENT
    from evaluation.handout_pages import demo_statement
    from models.zoo import resolve

    def of(*weights):
        return SimpleNamespace(models=[SimpleNamespace(weights=w) for w in weights])

    demo = resolve("demo-bam").weights
    assert demo_statement(of(None, demo)) == DEMO_MODELS and DEMO_STATEMENT.startswith(DEMO_MODELS)
    assert "sidebar" not in DEMO_MODELS  # a report has none
    assert demo_statement(of(demo.parent / ".." / "weights" / demo.name)) == DEMO_MODELS  # the same file
    assert demo_statement(of(None, demo.with_name("mine.pth"))) is None
    _, out, _ = report  # the user's own models: no word about the demo's
    assert DEMO_MODELS[:40] not in (out / handout.REPORT_HTML).read_text(encoding="utf-8")
