"""Recipe v2 of the crack generator: the variety is there, the unseen split holds only what
train/val/test never do, the same seed gives the same bytes, and masks match the drawn cracks."""

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from app.cli import main
from demo.v2.generator import SPLITS, generate_dataset, make_sample, sample_seed
from demo.v2.recipe import RECIPE_V2, SEEN, UNSEEN, Domain, check_recipe
from training.data import check_coco_dataset

SIZE = (96, 128)
SEED = 5
COUNTS = {"n_train": 90, "n_val": 4, "n_test": 4, "n_unseen": 40}
HELD_OUT = {"surfaces": set(UNSEEN.surfaces), "crack_styles": set(UNSEEN.crack_styles),
            "distractors": set(UNSEEN.distractors) - set(SEEN.distractors)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cracks_v2")
    generate_dataset(root, seed=SEED, size=SIZE, **COUNTS)
    return root


def _coco(root: Path, split: str) -> dict:
    return json.loads((root / split / "annotations.json").read_text())


def _held(coco: dict) -> dict[str, Counter]:
    """How often each surface, crack style and distractor occurs in a split."""
    return {"surfaces": Counter(im["surface"] for im in coco["images"]),
            "crack_styles": Counter(a["crack_style"] for a in coco["annotations"]),
            "distractors": Counter(d for im in coco["images"] for d in im["distractors"])}


def test_every_seen_family_occurs_in_training(dataset):
    held = _held(_coco(dataset, "train"))
    for kind in ("surfaces", "crack_styles", "distractors"):
        assert set(held[kind]) == set(getattr(SEEN, kind)), kind
    # No family dominates: the most common surface is under a quarter of the images.
    assert max(held["surfaces"].values()) < 0.25 * COUNTS["n_train"]
    assert len(held["surfaces"]) >= 10 and len(held["crack_styles"]) >= 5


def test_unseen_families_only_in_the_unseen_split(dataset):
    for split in ("train", "val", "test"):
        held = _held(_coco(dataset, split))
        for kind, names in HELD_OUT.items():
            assert not set(held[kind]) & names, (split, kind)
    unseen = _held(_coco(dataset, "unseen"))
    assert set(unseen["surfaces"]) == set(UNSEEN.surfaces)
    assert set(unseen["crack_styles"]) == set(UNSEEN.crack_styles)
    assert set(unseen["distractors"]) & HELD_OUT["distractors"]
    info = _coco(dataset, "unseen")["info"]
    assert (info["recipe"], info["domain"], info["surfaces"]) == ("v2", "unseen", sorted(UNSEEN.surfaces))


def test_negatives_hold_distractors(dataset):
    coco = _coco(dataset, "train")
    positives = {a["image_id"] for a in coco["annotations"]}
    negatives = [im for im in coco["images"] if im["id"] not in positives]
    assert 0.25 <= len(negatives) / len(coco["images"]) <= 0.55
    assert np.mean([len(im["distractors"]) >= 1 for im in negatives]) >= 0.85
    assert np.mean([len(im["distractors"]) for im in negatives]) >= 2


def test_a_recipe_that_leaks_unseen_families_is_refused():
    leaky = replace(RECIPE_V2, domains={"seen": SEEN, "unseen": replace(UNSEEN, surfaces={"wood": 1, "plastic": 1})})
    with pytest.raises(ValueError, match=r"shares surfaces \['plastic'\]"):
        check_recipe(leaky)
    with pytest.raises(ValueError, match="unknown crack_styles"):
        check_recipe(replace(RECIPE_V2, domains={"seen": replace(SEEN, crack_styles={"glued": 1}), "unseen": UNSEEN}))


def test_same_seed_same_bytes(dataset, tmp_path):
    generate_dataset(tmp_path, seed=SEED, size=SIZE, n_train=3, n_val=0, n_test=2, n_unseen=3)
    for split, n in (("train", 3), ("test", 2), ("unseen", 3)):
        for i in range(n):
            name = f"{i:06d}.jpg"
            assert (tmp_path / split / "images" / name).read_bytes() == (dataset / split / "images" / name).read_bytes()
    other = make_sample(np.random.default_rng(sample_seed(SEED + 1, "train", 0)), SEEN, size=SIZE)
    assert other.encoded != (dataset / "train" / "images" / "000000.jpg").read_bytes()


def test_files_are_valid_coco_and_decode_to_the_samples(dataset):
    for split in SPLITS:
        assert check_coco_dataset(dataset / split / "annotations.json", dataset / split / "images") == []
    coco = COCO(str(dataset / "unseen" / "annotations.json"))
    for image_id in (1, 2, 3):
        sample = make_sample(np.random.default_rng(sample_seed(SEED, "unseen", image_id - 1)), UNSEEN, size=SIZE)
        file = dataset / "unseen" / "images" / coco.imgs[image_id]["file_name"]
        assert np.array_equal(cv2.cvtColor(cv2.imread(str(file)), cv2.COLOR_BGR2RGB), sample.image)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert [a["crack_style"] for a in anns] == sample.crack_styles
        for ann, mask in zip(anns, sample.masks):
            assert np.array_equal(coco.annToMask(ann).astype(bool), mask)


@pytest.mark.parametrize("domain", [SEEN, UNSEEN], ids=["seen", "unseen"])
def test_masks_match_the_drawn_cracks(domain):
    """Render each image with and without its cracks (same random draws): the pixels the cracks
    change lie in their masks, and most mask pixels did change."""
    recipe = replace(RECIPE_V2, p_negative=0.0)
    inside, covered = [], []
    for i in range(14):
        args = (domain, recipe)
        with_cracks = make_sample(np.random.default_rng(sample_seed(SEED, "test", i)), *args, size=SIZE)
        without = make_sample(np.random.default_rng(sample_seed(SEED, "test", i)), *args, size=SIZE,
                              draw_cracks=False)
        if not with_cracks.masks:
            continue
        for a, b in zip(with_cracks.masks, without.masks):
            assert np.array_equal(a, b)
        diff = np.abs(with_cracks.image.astype(np.float32) - without.image.astype(np.float32)).mean(axis=2)
        union = np.any(with_cracks.masks, axis=0).astype(np.uint8)
        near = cv2.dilate(union, np.ones((9, 9), np.uint8)) > 0  # the crack's soft shadow and JPEG blocks
        inside.append(diff[near].sum() / max(diff.sum(), 1e-6))
        covered.append(np.mean(diff[union > 0] > 6))
    assert len(inside) >= 8
    assert np.median(inside) >= 0.9 and min(inside) >= 0.7
    assert np.median(covered) >= 0.6


def test_photo_sizes_and_long_cracks():
    rng = np.random.default_rng(0)
    from demo.v2.generator import draw_size

    sizes = [draw_size(rng, RECIPE_V2) for _ in range(300)]
    assert {max(s) for s in sizes} == set(RECIPE_V2.long_sides)
    assert any(s[0] > s[1] for s in sizes) and any(s[0] < s[1] for s in sizes)
    # Long styles run across a good part of the image.
    shape = (120, 160)
    long_domain = Domain(surfaces={"plastic": 1}, crack_styles={"hairline": 1, "fractal": 1}, distractors={"hair": 1})
    extents = []
    for i in range(12):
        s = make_sample(np.random.default_rng(i), long_domain, replace(RECIPE_V2, p_negative=0.0), size=shape)
        for m in s.masks:
            ys, xs = np.nonzero(m)
            extents.append(max(np.ptp(xs) / shape[1], np.ptp(ys) / shape[0]))
    assert np.median(extents) >= 0.45


def test_demo_data_command_writes_the_unseen_split(tmp_path, capsys):
    assert main(["demo-data", "--recipe", "v2", "--out", str(tmp_path), "--n", "2", "1", "1",
                 "--n-unseen", "2", "--size", "64", "80"]) == 0
    assert "unseen: 2 images" in capsys.readouterr().out
    assert len(list((tmp_path / "unseen" / "images").glob("*.jpg"))) == 2
    assert main(["demo-data", "--out", str(tmp_path / "v1"), "--n", "1", "0", "0", "--n-unseen", "3"]) == 2
    assert "recipe v1 has no unseen split" in capsys.readouterr().err
