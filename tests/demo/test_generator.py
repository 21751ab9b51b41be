"""Tests for the synthetic crack dataset generator (demo/)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from demo.generator import SPLITS, Sample, generate_dataset, make_sample, sample_seed

SIZE = (160, 160)
SEED = 3


def _sample(index: int, split: str = "train", seed: int = SEED, **kwargs) -> Sample:
    return make_sample(np.random.default_rng(sample_seed(seed, split, index)), size=SIZE, **kwargs)


def _generate(out: Path, seed: int = SEED, n_train: int = 12, n_val: int = 3, n_test: int = 3):
    generate_dataset(out, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, size=SIZE)


def _split_files(root: Path, split: str) -> dict[str, bytes]:
    files = sorted((root / split / "images").glob("*.png")) + [root / split / "annotations.json"]
    return {f.name: f.read_bytes() for f in files}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cracks")
    _generate(root)
    return root


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return [_sample(i) for i in range(60)]


def test_same_seed_gives_identical_dataset(dataset: Path, tmp_path: Path) -> None:
    _generate(tmp_path)
    for split in SPLITS:
        assert _split_files(tmp_path, split) == _split_files(dataset, split)


def test_different_seed_gives_different_images(dataset: Path, tmp_path: Path) -> None:
    _generate(tmp_path, seed=SEED + 1)
    first = sorted((dataset / "train" / "images").glob("*.png"))
    other = sorted((tmp_path / "train" / "images").glob("*.png"))
    assert len(first) == len(other) == 12
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(first, other))


def test_images_do_not_depend_on_other_split_sizes(dataset: Path, tmp_path: Path) -> None:
    _generate(tmp_path, n_train=2, n_val=3, n_test=1)
    val_a, val_b = _split_files(dataset, "val"), _split_files(tmp_path, "val")
    assert val_a == val_b
    train_a, train_b = _split_files(dataset, "train"), _split_files(tmp_path, "train")
    assert train_b["000001.png"] == train_a["000001.png"]


def test_splits_differ_from_each_other(dataset: Path) -> None:
    train, val = _split_files(dataset, "train"), _split_files(dataset, "val")
    assert train["000000.png"] != val["000000.png"]


def test_sample_shapes_and_masks(samples: list[Sample]) -> None:
    for s in samples:
        assert s.image.shape == (*SIZE, 3) and s.image.dtype == np.uint8
        for mask in s.masks:
            assert mask.shape == SIZE and mask.dtype == bool
            assert mask.sum() >= 12


def test_negatives_and_positives() -> None:
    negatives = [_sample(i, p_negative=1.0) for i in range(30)]
    positives = [_sample(i, p_negative=0.0, max_cracks=2) for i in range(30)]
    assert all(s.masks == [] for s in negatives)
    assert all(1 <= len(s.masks) <= 2 for s in positives)
    # Hard negatives: most crack-free images still contain crack look-alikes.
    assert np.mean([len(s.distractors) > 0 for s in negatives]) >= 0.7
    assert np.mean([len(s.distractors) > 0 for s in positives]) >= 0.4
    assert all(len(s.distractors) <= 3 for s in negatives + positives)


def test_default_mix_has_negatives_surfaces_and_distractors(samples: list[Sample]) -> None:
    share_negative = np.mean([not s.masks for s in samples])
    assert 0.15 <= share_negative <= 0.55
    assert {s.surface for s in samples} == {"plastic", "concrete", "painted_metal", "ceramic"}
    names = {name for s in samples for name in s.distractors}
    assert names == {"scratch", "seam", "hair", "stain", "texture_edge"}


def test_cracks_are_darker_than_their_surroundings(samples: list[Sample]) -> None:
    contrasts = []
    for s in samples:
        if not s.masks:
            continue
        grey = s.image.astype(np.float32).mean(axis=2)
        any_crack = np.any(s.masks, axis=0)
        for mask in s.masks:
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
            ring &= ~any_crack
            contrasts.append(grey[ring].mean() - grey[mask].mean())
    assert len(contrasts) >= 20
    assert np.mean(np.array(contrasts) > 0) >= 0.95
    assert np.median(contrasts) > 15  # grey levels: clearly visible, not a faint hint


def test_coco_annotations_round_trip(dataset: Path) -> None:
    for split in SPLITS:
        coco = COCO(str(dataset / split / "annotations.json"))
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["crack"]
        assert coco.getCatIds() == [1]
        for image_id, info in coco.imgs.items():
            assert (dataset / split / "images" / info["file_name"]).is_file()
            sample = _sample(image_id - 1, split)
            assert info["surface"] == sample.surface
            assert info["distractors"] == sample.distractors
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
            assert len(anns) == len(sample.masks)
            for ann, mask in zip(anns, sample.masks):
                assert ann["category_id"] == 1 and ann["iscrowd"] == 0
                assert np.array_equal(coco.annToMask(ann).astype(bool), mask)
                ys, xs = np.nonzero(mask)
                x, y, w, h = ann["bbox"]
                assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
                assert ann["bbox"] == mask_utils.toBbox(ann["segmentation"]).tolist()
                assert ann["area"] == mask.sum()


def test_written_images_match_samples(dataset: Path) -> None:
    for index in (0, 5):
        bgr = cv2.imread(str(dataset / "train" / "images" / f"{index:06d}.png"))
        assert np.array_equal(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), _sample(index).image)


def test_annotation_json_is_plain_coco(dataset: Path) -> None:
    data = json.loads((dataset / "train" / "annotations.json").read_text())
    assert {"images", "annotations", "categories"} <= data.keys()
    ids = [a["id"] for a in data["annotations"]]
    assert len(ids) == len(set(ids))
    assert all(isinstance(a["segmentation"]["counts"], str) for a in data["annotations"])
    assert all(a["segmentation"]["size"] == list(SIZE) for a in data["annotations"])


def test_progress_reports_every_image(tmp_path: Path) -> None:
    calls = []
    def progress(done: int, total: int) -> None:
        calls.append((done, total))

    generate_dataset(tmp_path, n_train=2, n_val=1, n_test=1, size=SIZE, progress=progress)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_non_square_images() -> None:
    for i in range(4):
        s = make_sample(np.random.default_rng(i), size=(120, 200), p_negative=0.0)
        assert s.image.shape == (120, 200, 3)
        assert s.masks and all(m.shape == (120, 200) and m.any() for m in s.masks)
