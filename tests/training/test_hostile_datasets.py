"""Hostile datasets (issue 22): image file names that lead out of the image folder, polygons that
cost pycocotools gigabytes, oversized or deeply nested JSON, wrong field types, foreign image
formats: each is one sentence from the check, naming files as the dataset does, never by their
server path (names written into the reports: tests/evaluation/test_hostile_names.py)."""

import json
import os
import time

import pytest
from PIL import Image

from tests import hostile
from training import data as training_data
from training.data import (
    DataProblemsError,
    DatasetPathError,
    check_coco_dataset,
    dataset_image_path,
    read_dataset_json,
)

REFUSED = "refused: an image's file_name must lead to a file inside the image folder"


def _edit(json_path, change):
    data = json.loads(json_path.read_text())
    change(data)
    json_path.write_text(json.dumps(data))


def _image_problems(json_path, image_dir):
    return [p for p in check_coco_dataset(json_path, image_dir) if "annotation " not in p]


# ---------------------------------------------------------------------------------------------
# File names held to the image folder


def _outside(tmp_path, exists: bool):
    """A PNG beside the dataset (outside its image folder), or the name of a missing one."""
    target = tmp_path / "secret.png" if exists else tmp_path / "missing.png"
    if exists:
        Image.new("RGB", (128, 128)).save(target)
    return target


def _file_name(case, image_dir, target):
    if case == "absolute":
        return str(target)
    if case == "dotdot":
        return f"../../{target.name}"
    link = image_dir / "link.png"  # a link in the image folder pointing out of it
    link.symlink_to(target)
    return link.name


@pytest.mark.parametrize("case", ["absolute", "dotdot", "symlink"])
def test_file_names_leading_out_of_the_image_folder_are_refused_alike(tmp_path, case):
    from tests.coco import make_coco_dataset

    messages = []
    for exists in (True, False):
        json_path, image_dir = make_coco_dataset(tmp_path / f"data_{exists}", n_positive=0, n_negative=1)
        target = _outside(tmp_path, exists)
        file_name = _file_name(case, image_dir, target)
        _edit(json_path, lambda d: d["images"][0].update(file_name=file_name))
        (problem,) = check_coco_dataset(json_path, image_dir)
        assert REFUSED in problem, problem
        assert str(tmp_path) not in problem.replace(file_name, "")  # only the name the JSON gives
        messages.append(problem.replace(file_name, "NAME").replace(f"data_{exists}", "data"))
        with pytest.raises(DatasetPathError):
            dataset_image_path(image_dir, file_name)
    assert messages[0] == messages[1]  # whether the place named exists is not told


def test_file_names_inside_the_folder_are_accepted_links_included(tiny_coco):
    json_path, image_dir = tiny_coco
    (image_dir / "sub").mkdir()
    os.replace(image_dir / "img_000.png", image_dir / "sub" / "img_000.png")
    (image_dir / "alias.png").symlink_to(image_dir / "img_001.png")  # a link that stays inside

    def rename(data):
        data["images"][0]["file_name"] = "sub/img_000.png"
        data["images"][1]["file_name"] = "alias.png"
    _edit(json_path, rename)
    assert check_coco_dataset(json_path, image_dir) == []
    assert dataset_image_path(image_dir, "sub/img_000.png") == image_dir / "sub" / "img_000.png"


def test_dataset_image_path_refuses_loops_and_nul_bytes(tmp_path):
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    for name in ("a.png", "x\0.png", "sub/../../x.png"):
        with pytest.raises(DatasetPathError, match="refused"):
            dataset_image_path(tmp_path, name)


def test_missing_files_and_folders_are_named_without_their_server_path(tiny_coco, tmp_path):
    json_path, image_dir = tiny_coco
    (image_dir / "img_000.png").unlink()
    problems = check_coco_dataset(json_path, image_dir)
    assert problems == ["annotations.json: image 1 ('img_000.png'): file not found in the image folder."]
    assert check_coco_dataset(tmp_path / "nope.json", image_dir) == ["nope.json: annotation file not found."]
    (problem,) = _image_problems(json_path, tmp_path / "gone")
    assert problem == "gone: image folder not found (images of annotations.json)."


# ---------------------------------------------------------------------------------------------
# Images: the upload formats only, the pixel rule


def test_a_gif_named_png_is_refused(tiny_coco):
    json_path, image_dir = tiny_coco
    hostile.gif_named(image_dir / "img_005.png")
    (problem,) = check_coco_dataset(json_path, image_dir)
    assert problem == ("annotations.json: image 6 ('img_005.png'): cannot be read as an image "
                       "(img_005.png: not JPEG, PNG, BMP, TIFF or WebP).")


# ---------------------------------------------------------------------------------------------
# Masks and fields


@pytest.mark.parametrize("reach", [2e7, 1e9])
def test_polygons_far_outside_the_image_never_reach_pycocotools(tiny_coco, monkeypatch, reach):
    from pycocotools import mask as mask_util

    json_path, image_dir = tiny_coco
    _edit(json_path, lambda d: d["annotations"][0].update(segmentation=hostile.polygon_far_outside(reach)))
    monkeypatch.setattr(mask_util, "frPyObjects", lambda *args: pytest.fail("pycocotools drew the polygon"))
    start = time.perf_counter()
    (problem,) = check_coco_dataset(json_path, image_dir)  # the other masks are RLE: checked in Python
    assert time.perf_counter() - start < 5
    assert "annotation 1 " in problem and f"has the point ({reach:g}, {reach:g}), far outside the 128x128 image" \
        in problem, problem


def test_a_polygon_outline_too_long_is_refused(tiny_coco):
    json_path, image_dir = tiny_coco
    zigzag = [v for i in range(40_000) for v in (0.0 if i % 2 else 255.0, 5.0 + i * 1e-3)]  # within the margin
    _edit(json_path, lambda d: d["annotations"][0].update(segmentation=[zigzag]))
    (problem,) = check_coco_dataset(json_path, image_dir)
    assert "outlines add up to 10,200,000 pixels, more than the 1,000,000" in problem, problem


def test_area_and_iscrowd_of_the_wrong_type_are_sentences(tiny_coco):
    json_path, image_dir = tiny_coco

    def spoil(data):
        data["annotations"][0]["area"] = "12"
        data["annotations"][1]["iscrowd"] = "0"
        data["annotations"][2]["area"] = -3
        data["annotations"][3]["iscrowd"] = 2
        del data["annotations"][4]["area"]  # pycocotools' evaluation would stop with KeyError: 'area'
    _edit(json_path, spoil)
    problems = check_coco_dataset(json_path, image_dir)
    assert [p.split(": ", 2)[-1] for p in problems] == [
        "'area' must be a number of pixels >= 0 (found '12').", "'iscrowd' must be 0 or 1 (found '0').",
        "'area' must be a number of pixels >= 0 (found -3).", "'iscrowd' must be 0 or 1 (found 2).",
        "has no 'area' (the mask's pixel count, which COCO's evaluation needs)."]


# ---------------------------------------------------------------------------------------------
# The JSON itself


def test_a_json_above_the_size_limit_is_refused_unread(tiny_coco, monkeypatch):
    json_path, image_dir = tiny_coco
    monkeypatch.setattr(training_data, "MAX_DATASET_JSON_BYTES", json_path.stat().st_size - 1)
    monkeypatch.setattr(training_data.json, "loads", lambda *a, **k: pytest.fail("parsed"))
    monkeypatch.setattr(type(json_path), "open", lambda *a, **k: pytest.fail("opened"))
    (problem,) = check_coco_dataset(json_path, image_dir)
    assert problem.startswith("annotations.json: larger than the ") and problem.endswith("refused unread.")


def test_the_size_limit_is_stated():
    assert training_data.MAX_DATASET_JSON_BYTES == 256 << 20


def test_deeply_nested_json_is_one_sentence(tmp_path):
    path = hostile.deeply_nested_json(tmp_path)
    assert check_coco_dataset(path, tmp_path) == ["deep.json: its JSON is nested far deeper than a COCO file is."]
    with pytest.raises(DataProblemsError):
        read_dataset_json(path)
