"""A dataset brought in as a zip (issue 23): COCO or images with masks in, hostile zips refused
with one sentence per reason and nothing kept."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.concurrency import twice_at_once
from training import dataset_upload
from training.data import check_coco_dataset
from training.dataset_upload import UploadProblemsError, extract_dataset


def _png(value: int = 0, size=(48, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full(size, value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(files: dict[str, bytes], *, links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _coco(names: list[str]) -> bytes:
    images = [{"id": i + 1, "file_name": n, "width": 64, "height": 48} for i, n in enumerate(names)]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 10, 10], "area": 100, "iscrowd": 0,
             "segmentation": [[4, 4, 14, 4, 14, 14, 4, 14]]}]
    return json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "crack"}]}).encode()


def test_a_coco_zip_is_found_in_any_common_layout(tmp_path):
    data = _zip({"mine/annotations.json": _coco(["a.png", "b.png"]), "mine/images/a.png": _png(),
                 "mine/images/b.png": _png(), "__MACOSX/._a.png": b"junk"})
    found = extract_dataset(data, "mine.zip", tmp_path)
    assert found.image_dir.name == "images" and found.json_path.name == "annotations.json"
    assert found.label == f"mine.zip ({dataset_upload.content_digest(data)})" and len(found.digest) == 10
    assert check_coco_dataset(found.json_path, found.image_dir) == []
    again = extract_dataset(data, "renamed.zip", tmp_path)  # the same content: the same folder, kept
    assert again.json_path == found.json_path and again.name == "renamed.zip"
    flat = extract_dataset(_zip({"a.json": _coco(["x.png"]), "x.png": _png()}), "flat.zip", tmp_path)
    assert flat.image_dir == flat.json_path.parent


def test_images_with_masks_become_coco(tmp_path):
    mask = np.zeros((48, 64), np.uint8)
    mask[10, 5:45] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    data = _zip({"set/images/001.jpg": _jpeg(), "set/masks/001_mask.png": buffer.getvalue(),
                 "set/images/002.jpg": _jpeg(), "set/masks/002_mask.png": _png()})
    found = extract_dataset(data, "masks.zip", tmp_path)
    assert found.notes == ("made from 2 images and their masks: 1 crack instances, 1 images without any",)
    assert check_coco_dataset(found.json_path, found.image_dir) == []


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_hostile_zips_are_refused_with_a_sentence_each_and_nothing_kept(tmp_path):
    bomb = bytes(40 << 20)  # 40 MB of zeros: deflates about a thousand times
    data = _zip({"../escape.png": _png(), "/abs/x.png": _png(), "run.py": b"print('hi')", "zeros.png": bomb,
                 "ok/annotations.json": _coco(["a.png"])}, links=("ok/link.png",))
    with pytest.raises(UploadProblemsError) as error:
        extract_dataset(data, "evil.zip", tmp_path)
    problems = error.value.problems
    assert [p.split(": ", 2)[2] for p in problems] == [
        "a path with '..'; a zip's files must stay inside it.",
        "an absolute path; a zip's files must stay inside it.",
        "not an image, a mask or a JSON file.",
        problems[3].split(": ", 2)[2],
        "a link; only plain files are read."]
    assert "compressed" in problems[3] and "zip bomb" in problems[3]
    assert all(p.startswith("evil.zip: ") for p in problems)
    assert list(tmp_path.iterdir()) == []


def test_too_many_entries_and_not_a_zip(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_upload, "MAX_ENTRIES", 3)
    with pytest.raises(UploadProblemsError, match="4 entries, more than the 3"):
        extract_dataset(_zip({f"{i}.png": _png() for i in range(4)}), "many.zip", tmp_path)
    with pytest.raises(UploadProblemsError, match="not a zip file"):
        extract_dataset(b"PK\x03\x04 not really", "bad.zip", tmp_path)


def test_a_zip_without_json_or_masks_says_what_it_needs(tmp_path):
    with pytest.raises(UploadProblemsError, match="holds no COCO JSON, and no pair of folders"):
        extract_dataset(_zip({"photos/a.png": _png()}), "photos.zip", tmp_path)
    with pytest.raises(UploadProblemsError, match="the images annotations.json names are not in the zip"):
        extract_dataset(_zip({"annotations.json": _coco(["missing.png"]), "other.png": _png()}), "x.zip", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_coco_json_beside_a_zip_of_its_images(tmp_path):
    images = _zip({"photos/a.png": _png(), "photos/b.png": _png(), "photos/annotations.json": b"{}"})
    found = extract_dataset(images, "cracks.json + photos.zip", tmp_path,
                            annotations=("cracks.json", _coco(["a.png", "b.png"])))
    assert found.image_dir.name == "photos" and check_coco_dataset(found.json_path, found.image_dir) == []
    assert found.digest != dataset_upload.content_digest(images)  # the JSON is part of the content
    with pytest.raises(UploadProblemsError, match=r"^x: the images cracks.json names are not in the zip"):
        extract_dataset(images, "x", tmp_path, annotations=("cracks.json", _coco(["c.png"])))
    with pytest.raises(UploadProblemsError, match="notes.txt: not a JSON file"):
        extract_dataset(images, "y", tmp_path, annotations=("notes.txt", b"{}"))


def test_two_extractions_of_the_same_zip_at_once_keep_one_complete_folder(tmp_path, monkeypatch):
    data = _zip({"annotations.json": _coco(["a.png"]), "images/a.png": _png()})
    first, second = twice_at_once(monkeypatch, dataset_upload, "_coco_image_dir",
                                  lambda: extract_dataset(data, "same.zip", tmp_path),
                                  lambda found: (found.json_path.parent / "in use by a page").write_text(""))
    assert first == second
    assert (first.json_path.parent / "in use by a page").is_file()  # the folder in use was never replaced
    assert [p.name for p in tmp_path.iterdir()] == [first.digest]  # no staging folder left
    assert check_coco_dataset(first.json_path, first.image_dir) == []
