"""The demo statement's numbers are those of the shipped pair's stored per-image scores."""

import json
import re
from pathlib import Path

from demo.statement import DEMO_STATEMENT
from evaluation.evaluate import image_level_counts

CARD = Path(__file__).resolve().parents[2] / "demo" / "card"


def counts(split: str, label: str):
    stored = json.loads((CARD / f"{split}_images.json").read_text())
    return image_level_counts([im["crack"] for im in stored["images"]],
                              [im["max_scores"][label] for im in stored["images"]], 0.5)


def test_the_statement_says_the_cards_numbers():
    base, bam = counts("cf_test", "Mask R-CNN"), counts("cf_test", "Mask R-CNN + BAM")
    assert base.tp == bam.tp and base.recall == bam.recall  # "both find a crack in N"
    assert f"the {base.images} CrackForest test photos both find a crack in {base.tp} " \
           f"(recall {100 * base.recall:.1f}%)" in DEMO_STATEMENT
    tiles = [counts("cf_tiles", label) for label in ("Mask R-CNN", "Mask R-CNN + BAM")]
    said = f"right on {100 * tiles[0].accuracy:.1f}% (baseline) and {100 * tiles[1].accuracy:.1f}% (BAM)"
    assert said in DEMO_STATEMENT


def test_the_statement_is_two_or_three_plain_sentences():
    sentences = [s for s in re.split(r"(?<=[.;])\s+(?=[A-Z])", DEMO_STATEMENT) if s]
    assert 2 <= len(sentences) <= 3 and "sidebar" in sentences[-1]
