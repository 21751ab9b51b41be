"""The model card's numbers for the shipped pair, reproduced.

The card's image-level tables (in-domain test split and unseen-domain split of recipe v2) must
follow from the per-image scores stored beside it (`demo/card/*_images.json`, written by
`python -m app evaluate`), and the shipped models must give those scores again on a regenerated
sample of each split: so the card describes these weights and this generator, not an earlier pair.
"""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from demo.v2.generator import generate_dataset
from evaluation.evaluate import evaluate, image_level_counts
from evaluation.formatting import format_metric
from models import load
from models.zoo import resolve

DEMO = Path(__file__).resolve().parents[2] / "demo"
CARD = DEMO / "MODEL_CARD.md"
SECTIONS = {"test": "In-domain test split", "unseen": "Unseen-domain split"}  # card headings start so
SAMPLE = 6  # images regenerated per split
MODELS = (("Mask R-CNN", "demo-baseline"), ("Mask R-CNN + BAM", "demo-bam"))  # the card's column order


def stored_scores(split: str) -> dict:
    return json.loads((DEMO / "card" / f"{split}_images.json").read_text())


def card_table(heading: str) -> dict[str, list[str]]:
    """{row name: its cells} of the first table under the `### heading...` of the model card."""
    text = CARD.read_text()
    start = re.search(rf"^### {re.escape(heading)}.*$", text, flags=re.M)
    assert start, f"MODEL_CARD.md has no section '### {heading}'"
    rows = {}
    for line in text[start.end():].splitlines():
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) > 2 and not set(cells[1]) <= set("-: "):
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("split", SECTIONS)
def test_the_cards_counts_follow_from_the_stored_scores(split):
    stored, rows = stored_scores(split), card_table(SECTIONS[split])
    assert stored["models"] == [label for label, _ in MODELS]
    truth = [image["crack"] for image in stored["images"]]
    for column, label in enumerate(stored["models"]):
        counts = image_level_counts(truth, [image["max_scores"][label] for image in stored["images"]], 0.5)
        for row, key in (("TP", "tp"), ("TN", "tn"), ("FP", "fp"), ("FN", "fn")):
            assert int(rows[row][column]) == getattr(counts, key), f"{split}, {label}: {row}"
        assert rows["accuracy"][column] == format_metric(counts.accuracy, "percent")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The first SAMPLE images of the test and unseen splits: image i of a split depends on
    neither the split's size nor the other splits, so these are the card's images."""
    out = tmp_path_factory.mktemp("v2_sample")
    generate_dataset(out, n_train=0, n_val=0, n_test=SAMPLE, n_unseen=SAMPLE, seed=0)
    return out


@pytest.mark.parametrize("split", SECTIONS)
def test_the_shipped_pair_gives_the_stored_scores_again(sample, split, tmp_path):
    loaded = [load(replace(resolve(name), label=label)) for label, name in MODELS]
    evaluate(loaded, sample / split / "annotations.json", sample / split / "images", tmp_path, progress=False)
    again = {image["file_name"]: image for image in json.loads((tmp_path / "images.json").read_text())["images"]}
    stored = {image["file_name"]: image for image in stored_scores(split)["images"]}
    assert len(again) == SAMPLE
    for name, image in again.items():
        assert image["crack"] == stored[name]["crack"], f"{split}/{name}: the generator drew another image"
        for label, _ in MODELS:
            assert image["max_scores"][label] == pytest.approx(stored[name]["max_scores"][label], abs=0.02), \
                f"{split}/{name}, {label}"
