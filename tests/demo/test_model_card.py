"""The model card's numbers, reproduced.

Every image-level table of `demo/MODEL_CARD.md` must follow from the per-image scores stored
beside it (`demo/card/*_images.json`, written by `python -m app evaluate`), column by column; and
the shipped pair must give those scores again on CrackForest test photos imported with
`python -m app import-masks`: so the card describes these weights, not an earlier pair.
"""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from app.cli import main
from evaluation.evaluate import evaluate, image_level_counts
from evaluation.formatting import format_metric
from models import load
from models.zoo import resolve

DEMO = Path(__file__).resolve().parents[2] / "demo"
CARD = DEMO / "MODEL_CARD.md"
CRACKFOREST = DEMO.parents[1] / "shared" / "datasets" / "crackforest"
# stored scores -> the card heading (its start) of their table; columns in the stored models' order
TABLES = {
    "cf_test": "CrackForest test split, whole photos",
    "cf_tiles": "CrackForest test split, 160-px tiles",
    "v1_test": "Synthetic v1 test split",
    "v2_test": "In-domain test split",
    "v2_unseen": "Unseen-domain split",
}
SHIPPED = (("Mask R-CNN", "demo-baseline"), ("Mask R-CNN + BAM", "demo-bam"))
SAMPLE_STEMS = "073-078"  # the first CrackForest test photos, chosen by number


def stored_scores(split: str) -> dict:
    return json.loads((DEMO / "card" / f"{split}_images.json").read_text())


def card_table(heading: str) -> dict[str, list[str]]:
    """{row name: its cells} of the first table under the `#... heading` of the model card."""
    text = CARD.read_text()
    start = re.search(rf"^#+ {re.escape(heading)}.*$", text, flags=re.M)
    assert start, f"MODEL_CARD.md has no section '{heading}'"
    rows = {}
    for line in text[start.end():].splitlines():
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) > 2 and not set(cells[1]) <= set("-: "):
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("split", TABLES)
def test_the_cards_counts_follow_from_the_stored_scores(split):
    stored, rows = stored_scores(split), card_table(TABLES[split])
    truth = [image["crack"] for image in stored["images"]]
    for column, label in enumerate(stored["models"]):
        counts = image_level_counts(truth, [image["max_scores"][label] for image in stored["images"]], 0.5)
        checked = 0
        for row, key in (("TP", "tp"), ("TN", "tn"), ("FP", "fp"), ("FN", "fn")):
            if row in rows:  # a split with no crack-free image leaves TN / FP out
                assert int(rows[row][column]) == getattr(counts, key), f"{split}, {label}: {row}"
                checked += 1
        for row, value in (("accuracy", counts.accuracy), ("recall", counts.recall)):
            if row in rows:
                assert rows[row][column] == format_metric(value, "percent"), f"{split}, {label}: {row}"
                checked += 1
        assert checked >= 3


def test_the_cards_first_columns_are_the_shipped_pair():
    for split in ("cf_test", "cf_tiles", "v1_test"):
        assert stored_scores(split)["models"][:2] == [label for label, _ in SHIPPED]
    assert "`configs/crack_R_18_FPN.yaml`" in CARD.read_text()
    assert resolve("demo-bam").config.name == "crack_R_18_FPN_bam.yaml"


@pytest.mark.skipif(not CRACKFOREST.is_dir(), reason=f"the CrackForest photos are not here ({CRACKFOREST})")
def test_the_shipped_pair_gives_the_stored_scores_on_crackforest_test_photos(tmp_path):
    assert main(["import-masks", "--images", str(CRACKFOREST / "image"), "--masks", str(CRACKFOREST / "groundTruth"),
                 "--out", str(tmp_path / "cf"), "--split", f"test={SAMPLE_STEMS}"]) == 0
    split = tmp_path / "cf" / "test"
    loaded = [load(replace(resolve(name), label=label)) for label, name in SHIPPED]
    evaluate(loaded, split / "annotations.json", split / "images", tmp_path / "eval", progress=False)
    again = json.loads((tmp_path / "eval" / "images.json").read_text())["images"]
    stored = {image["file_name"]: image for image in stored_scores("cf_test")["images"]}
    assert len(again) == 6
    for image in again:
        assert image["crack"] == stored[image["file_name"]]["crack"]
        for label, _ in SHIPPED:
            expected = stored[image["file_name"]]["max_scores"][label]
            assert image["max_scores"][label] == pytest.approx(expected, abs=0.02), f"{image['file_name']}, {label}"
