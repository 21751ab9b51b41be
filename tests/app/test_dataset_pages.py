"""Datasets named by server path (issue 22): image file names that lead out of the image folder are
refused on the Evaluate page in a sentence without server paths, and a page reads a dataset's JSON
once per change of the file, never more than training.data allows."""

import json

import pytest
from conftest import assert_clean, choose_server_dataset, errors, open_app
from PIL import Image

from app import evaluation
from tests.coco import make_coco_dataset
from training import data as training_data
from training.data import DatasetPathError

REFUSED = "refused: an image's file_name must lead to a file inside the image folder"


def _point_out(json_path, names):
    data = json.loads(json_path.read_text())
    for image, name in zip(data["images"], names):
        image["file_name"] = name
    json_path.write_text(json.dumps(data))


def test_the_json_is_read_once_per_change(tmp_path, count_calls):
    json_path, _ = make_coco_dataset(tmp_path, n_positive=1, n_negative=1)
    reads = count_calls(training_data, "read_dataset_json")
    assert [evaluation.dataset_size(json_path) for _ in range(3)] == [2, 2, 2]
    assert reads.calls == 1  # not on every rerun
    json_path.write_text(json_path.read_text().replace('"images": [', '"images": [{"id": 9}, ', 1))
    assert evaluation.dataset_size(json_path) == 3 and reads.calls == 2


def test_a_json_over_the_limit_has_no_size_and_is_not_parsed(tmp_path, monkeypatch):
    json_path, _ = make_coco_dataset(tmp_path, n_positive=1, n_negative=1)
    monkeypatch.setattr(training_data, "MAX_DATASET_JSON_BYTES", 100)
    monkeypatch.setattr(training_data.json, "loads", lambda *a, **k: pytest.fail("parsed"))
    assert evaluation.dataset_size(json_path) is None


def test_a_runs_image_paths_stay_in_the_image_folder(tmp_path):
    json_path, image_dir = make_coco_dataset(tmp_path, n_positive=1, n_negative=1)
    _point_out(json_path, ["../annotations.json", "img_001.png"])
    run = evaluation.EvaluationRun((), {}, tmp_path, json_path, image_dir)
    with pytest.raises(DatasetPathError, match="refused"):
        run.image_path({"image_id": 1, "file_name": "x.png"})
    assert run.image_path({"image_id": 2, "file_name": "x.png"}) == image_dir / "img_001.png"


def test_the_evaluate_page_refuses_file_names_out_of_the_image_folder(server_folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere")  # beyond the operator's folders
    Image.new("RGB", (128, 128)).save(outside / "secret.png")
    json_path, image_dir = make_coco_dataset(server_folder / "data", n_positive=1, n_negative=2)
    _point_out(json_path, [str(outside / "secret.png"), "../../secret.png", "img_002.png"])
    at = open_app("evaluate")
    choose_server_dataset(at, str(json_path), str(image_dir))
    at.button(key="eval_run").click().run()
    assert_clean(at)
    shown = "\n".join(errors(at))
    assert shown.count(REFUSED) == 2, shown
    assert "The dataset has 2 problem(s); nothing was evaluated" in shown
    assert str(outside) not in shown.replace(str(outside / "secret.png"), "")  # the name the JSON gives only
    assert str(server_folder) not in shown
    assert "evaluation" not in at.session_state
