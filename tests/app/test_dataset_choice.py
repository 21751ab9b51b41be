"""A dataset brought in the browser and kept for the session (issue 23 items 3 and 4): uploaded as
one zip or as a COCO JSON with a zip of its images, hostile zips refused through the page in a
sentence each, the choice kept across pages, and every result labelled with the upload's name and
hash, never shown as another dataset's. AppTest, the real engine and the demo pair."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from demo.generator import generate_dataset
from tests.app.conftest import SERVER_DATASET, assert_clean, choose_server_dataset, errors, open_app
from training.dataset_upload import content_digest

UPLOAD = "Upload a dataset"


def _zip(folder: Path, under: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, under + path.relative_to(folder).as_posix())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """A tiny labelled set: test/annotations.json and test/images/ (3 images of 160 px)."""
    folder = tmp_path_factory.mktemp("mine")
    generate_dataset(folder, n_train=0, n_val=0, n_test=3, size=(160, 160))
    return folder / "test"


def _upload(at, *files: tuple[str, bytes]):
    at.radio(key="dataset_source").set_value(UPLOAD).run()
    at.file_uploader(key="dataset_files").set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def _captions(at) -> str:
    return "\n".join(c.value for c in at.main.caption).replace("\\", "")


def test_an_uploaded_zip_is_evaluated_labelled_and_kept_across_pages(labelled):
    data = _zip(labelled, "mine/")
    label = f"mine.zip ({content_digest(data)})"
    at = _upload(open_app("evaluate"), ("mine.zip", data))
    assert_clean(at)
    assert not errors(at) and f"Using **{label}**" in _captions(at)
    at.button(key="eval_run").click().run()
    assert_clean(at)
    run = at.session_state["evaluation"]
    assert run.label == label and run.results.dataset.num_images == 3
    assert "3 images: " in _captions(at) and label in _captions(at)  # the results name the upload
    assert run.report("evaluation.md").decode().replace("\\", "").startswith(f"# Evaluation on {label}")
    assert not at.warning

    at.switch_page("app/pages/attention_measured.py").run()  # the choice stays
    assert_clean(at)
    assert at.radio(key="dataset_source").value == UPLOAD
    assert f"Using **{label}**, uploaded earlier in this session" in _captions(at)
    assert not at.button(key="am_run").disabled
    at.switch_page("app/pages/evaluate.py").run()
    assert_clean(at)
    assert at.radio(key="dataset_source").value == UPLOAD and not at.warning  # its own results, as they were
    assert at.session_state["evaluation"] is run

    at.radio(key="dataset_source").set_value(UPLOAD).run()
    at.file_uploader(key="dataset_files").set_value(("evil.zip", b"PK\x03\x04 not really", "application/zip")).run()
    assert at.button(key="eval_run").disabled and errors(at)  # a refused upload replaces the last one
    at.radio(key="dataset_source").set_value("Demo test split").run()  # another dataset: its results are not these
    (warning,) = [w.value.replace("\\", "") for w in at.warning]
    assert f"earlier run on **{label}**" in warning and "not of Demo test split" in warning


def test_a_coco_json_with_a_zip_of_its_images(labelled):
    json_data = (labelled / "annotations.json").read_bytes()
    images = _zip(labelled / "images", "photos/")
    at = _upload(open_app("evaluate"), ("cracks.json", json_data))
    assert [i.value for i in at.info if "Now add the zip" in i.value]  # half-way: what is still needed
    at.file_uploader(key="dataset_files").set_value([("cracks.json", json_data, "application/json"),
                                                     ("photos.zip", images, "application/zip")])
    at.run()
    assert_clean(at)
    label = f"cracks.json + photos.zip ({content_digest(images, json_data)})"
    assert not errors(at) and f"Using **{label}**" in _captions(at)
    assert not at.button(key="eval_run").disabled


def test_hostile_and_wrong_uploads_are_refused_in_the_page_a_sentence_each(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("../escape.png", b"x")
        archive.writestr("run.py", b"print('hi')")
        archive.writestr("zeros.png", bytes(40 << 20))  # a zip bomb's ratio
    at = _upload(open_app("evaluate"), ("evil.zip", buffer.getvalue()))
    assert_clean(at)
    (message,) = errors(at)
    lines = message.splitlines()
    assert lines[0] == "evil.zip was refused:" and len(lines) == 4
    assert all(line.startswith("- evil.zip: ") and line.endswith(".") for line in lines[1:])
    assert "a path with '..'" in message and "not an image, a mask or a JSON file" in message
    assert "zip bomb" in message and str(tmp_path) not in message
    assert at.button(key="eval_run").disabled and "evaluation" not in at.session_state

    at.file_uploader(key="dataset_files").set_value([("a.zip", b"PK", "application/zip"),
                                                     ("b.zip", b"PK", "application/zip")])
    at.run()
    assert errors(at) == ["Give one zip, or one COCO JSON and one zip of its images (got 2 zip and 0 JSON files)."]
    at.file_uploader(key="dataset_files").set_value(("damaged.zip", b"PK\x03\x04 not really", "application/zip"))
    at.run()
    assert errors(at) == ["damaged.zip was refused:\n- damaged.zip: not a zip file (or a damaged one)."]


def test_a_server_dataset_stays_chosen_across_pages(server_folder, labelled):
    import shutil

    labelled = Path(shutil.copytree(labelled, server_folder / "set"))  # in the operator's folders
    at = choose_server_dataset(open_app("evaluate"), labelled / "annotations.json", labelled / "images")
    for page in ("attention_measured", "detections", "evaluate"):
        at.switch_page(f"app/pages/{page}.py").run()
        assert_clean(at)
    assert at.radio(key="dataset_source").value == SERVER_DATASET
    assert at.text_input(key="dataset_json").value == str(labelled / "annotations.json")
    assert at.text_input(key="dataset_images").value == str(labelled / "images")
    assert not at.button(key="eval_run").disabled


def test_the_attention_measured_on_an_upload_is_labelled_with_it(labelled):
    data = _zip(labelled)
    label = f"flat.zip ({content_digest(data)})"
    at = _upload(open_app("attention_measured"), ("flat.zip", data))
    at.button(key="am_run").click().run()
    assert_clean(at)
    run = at.session_state["alignment"]
    assert run.label == label and label in _captions(at)
    assert run.report("attention_report.md").decode().replace("\\", "").startswith(f"# Attention alignment on {label}")


def test_a_zip_of_images_and_masks_becomes_a_dataset_in_the_page():
    import numpy as np
    from PIL import Image

    def png(array) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        return buffer.getvalue()

    mask = np.zeros((96, 128), np.uint8)
    mask[40:43, 10:110] = 255
    photo = png(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in (("set/images/001.png", photo), ("set/masks/001_mask.png", png(mask)),
                           ("set/images/002.png", photo), ("set/masks/002_mask.png", png(np.zeros_like(mask)))):
            archive.writestr(name, data)
    at = _upload(open_app("evaluate"), ("masks.zip", buffer.getvalue()))
    assert_clean(at)
    assert not errors(at)
    assert "made from 2 images and their masks: 1 crack instances, 1 images without any" in _captions(at)
    assert not at.button(key="eval_run").disabled
