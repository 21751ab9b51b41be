"""check_coco_dataset finds each kind of problem, naming the file and the annotation; datasets
register with detectron2 idempotently, negatives included."""

import json

import numpy as np
import pytest
from pycocotools import mask as mask_util

import models  # noqa: F401  (before detectron2)
from tests.hostile import png_header_only
from training.data import (
    DataProblemsError,
    check_coco_dataset,
    dataset_name,
    decode_rle_string,
    register_coco_dataset,
    require_valid,
)

from detectron2.data import DatasetCatalog, MetadataCatalog


def _edit(json_path, change):
    data = json.loads(json_path.read_text())
    change(data)
    json_path.write_text(json.dumps(data))


def _one_problem(json_path, image_dir, *needles):
    problems = check_coco_dataset(json_path, image_dir)
    assert len(problems) == 1, problems
    for needle in needles:
        assert needle in problems[0], problems[0]
    return problems[0]


def test_a_valid_dataset_has_no_problems(tiny_coco):
    assert check_coco_dataset(*tiny_coco) == []


def test_polygon_masks_are_accepted(tiny_coco):
    json_path, image_dir = tiny_coco

    def to_polygons(data):
        for ann in data["annotations"]:
            x, y, w, h = ann["bbox"]
            ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    _edit(json_path, to_polygons)
    assert check_coco_dataset(json_path, image_dir) == []


def test_missing_annotation_file(tmp_path):
    _one_problem(tmp_path / "nope.json", tmp_path, "nope.json", "not found")


def test_json_that_does_not_parse(tiny_coco):
    json_path, image_dir = tiny_coco
    json_path.write_text('{"images": [')
    _one_problem(json_path, image_dir, "annotations.json", "not valid JSON", "line 1")


def test_json_without_the_coco_lists(tiny_coco):
    json_path, image_dir = tiny_coco
    json_path.write_text(json.dumps({"images": [], "categories": "crack"}))
    problems = check_coco_dataset(json_path, image_dir)
    assert any("'annotations'" in p for p in problems) and any("'categories'" in p for p in problems)
    json_path.write_text("[1, 2]")
    _one_problem(json_path, image_dir, "JSON object")


def test_missing_and_unreadable_image_files(tiny_coco):
    json_path, image_dir = tiny_coco
    (image_dir / "img_001.png").unlink()
    (image_dir / "img_002.png").write_bytes(b"this is not a PNG")
    problems = check_coco_dataset(json_path, image_dir)
    assert len(problems) == 2, problems
    assert "image 2 ('img_001.png')" in problems[0] and "file not found" in problems[0]
    assert "image 3 ('img_002.png')" in problems[1] and "cannot be read" in problems[1]


@pytest.mark.parametrize("width, height, reason", [
    (8_000, 6_000, "more than the 40 megapixels"),  # ours, from the header
    (60_000, 60_000, "decompression bomb"),  # PIL's own limit, raised by Image.open
])
def test_huge_images_are_refused_from_their_header(tiny_coco, width, height, reason):
    json_path, image_dir = tiny_coco
    (image_dir / "img_005.png").write_bytes(png_header_only(width, height, decodable=False))
    _one_problem(json_path, image_dir, "image 6 ('img_005.png')", reason)  # the file's header, not the JSON
    # the JSON's own size claim is held to the same rule (a negative: no mask)
    _edit(json_path, lambda d: d["images"][5].update(width=width, height=height))
    _one_problem(json_path, image_dir, "image 6 ('img_005.png')", f"the JSON says {width}x{height} pixels")


def test_image_size_differs_from_the_json(tiny_coco):
    json_path, image_dir = tiny_coco
    _edit(json_path, lambda d: d["images"][5].update(width=100))  # a negative: no mask to disagree
    _one_problem(json_path, image_dir, "image 6 ('img_005.png')", "128x128", "100x128")


def test_missing_image_folder(tiny_coco, tmp_path):
    json_path, _ = tiny_coco
    _one_problem(json_path, tmp_path / "elsewhere", "image folder not found")


def test_empty_and_corrupt_masks(tiny_coco):
    json_path, image_dir = tiny_coco

    def spoil(data):
        empty = mask_util.encode(np.zeros((128, 128), np.uint8, order="F"))
        data["annotations"][0]["segmentation"] = {"size": [128, 128], "counts": empty["counts"].decode()}
        data["annotations"][1]["segmentation"]["counts"] = "0" + data["annotations"][1]["segmentation"]["counts"]
        data["annotations"][2]["segmentation"]["size"] = [64, 64]
        data["annotations"][3]["segmentation"] = [[1, 2, 3, 4]]
        del data["annotations"][4]["segmentation"]
    _edit(json_path, spoil)
    problems = check_coco_dataset(json_path, image_dir)
    assert len(problems) == 5, problems
    expected = [("annotation 1 ", "empty"), ("annotation 2 ", "corrupt"), ("annotation 3 ", "size [64, 64]"),
                ("annotation 4 ", "polygon 1"), ("annotation 5 ", "no 'segmentation'")]
    for problem, (who, what) in zip(problems, expected):
        assert problem.startswith("annotations.json: ") and who in problem and what in problem, problem


def test_invalid_bboxes(tiny_coco):
    json_path, image_dir = tiny_coco

    def spoil(data):
        data["annotations"][0]["bbox"][2] = 0
        data["annotations"][1]["bbox"] = [1, 2, 3]
        data["annotations"][2]["bbox"] = [500, 500, 10, 10]
        del data["annotations"][3]["bbox"]
    _edit(json_path, spoil)
    problems = check_coco_dataset(json_path, image_dir)
    assert len(problems) == 4, problems
    for problem, (who, what) in zip(problems, [("annotation 1 ", "<= 0"), ("annotation 2 ", "four"),
                                               ("annotation 3 ", "outside"), ("annotation 4 ", "no 'bbox'")]):
        assert who in problem and what in problem, problem


def test_unknown_category_and_image_ids(tiny_coco):
    json_path, image_dir = tiny_coco

    def spoil(data):
        data["annotations"][0]["category_id"] = 7
        data["annotations"][1]["image_id"] = 99
        data["annotations"][2]["id"] = data["annotations"][3]["id"]
    _edit(json_path, spoil)
    problems = check_coco_dataset(json_path, image_dir)
    assert len(problems) == 3, problems
    assert "annotation 1 " in problems[0] and "category_id 7" in problems[0]
    assert "annotation 2:" in problems[1] and "image_id 99" in problems[1]
    assert "annotation id 4 is used by more than one" in problems[2]


def test_require_valid_lists_the_problems_of_every_dataset(tiny_coco, tmp_path):
    json_path, image_dir = tiny_coco
    (image_dir / "img_000.png").unlink()
    with pytest.raises(DataProblemsError) as caught:
        require_valid((json_path, image_dir), (tmp_path / "val.json", image_dir))
    assert len(caught.value.problems) == 2
    assert "img_000.png" in caught.value.problems[0] and "val.json" in caught.value.problems[1]


def test_decode_rle_string_matches_pycocotools():
    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        runs = decode_rle_string(mask_util.encode(np.asfortranarray(mask))["counts"].decode())
        flat = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
        np.testing.assert_array_equal(flat.reshape(w, h).T, mask)
    assert decode_rle_string("\x7f") is None  # not a character of the format
    assert decode_rle_string("d") is None  # ends inside a number (continuation bit set)


def test_registration_is_idempotent_and_keeps_negatives(tiny_coco):
    json_path, image_dir = tiny_coco
    name = register_coco_dataset(json_path, image_dir)
    assert register_coco_dataset(json_path, image_dir) == name == dataset_name(json_path, image_dir)
    assert DatasetCatalog.list().count(name) == 1
    records = DatasetCatalog.get(name)
    assert len(records) == 6
    assert sum(1 for r in records if not r["annotations"]) == 2  # the negatives are there
    assert MetadataCatalog.get(name).thing_classes == ["crack"]
    # a changed file is read afresh after registering again (metadata included)
    _edit(json_path, lambda d: d["categories"][0].update(name="fissure"))
    register_coco_dataset(json_path, image_dir)
    DatasetCatalog.get(name)
    assert MetadataCatalog.get(name).thing_classes == ["fissure"]
    assert dataset_name(json_path, image_dir.parent) != name
