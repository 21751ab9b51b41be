"""Class names come with the model: the user's > metadata.json beside the weights > "class N",
in the app's model loading and in `python -m app analyze --class-names`."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import models
from app.cli import main
from app.model_choice import load, path_choice
from models.metadata import write_metadata

CONFIG = models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml"  # one class


@pytest.fixture(scope="module")
def weights_folders(tmp_path_factory):
    """Two folders with the same R-18 weights: one with metadata.json ("pothole"), one without."""
    torch.manual_seed(0)
    model = models.build_model(models.get_config(CONFIG))
    named, bare = tmp_path_factory.mktemp("named"), tmp_path_factory.mktemp("bare")
    write_metadata(named, ["pothole"])
    return models.save_weights(model, named / "model_final_fp16.pth"), models.save_weights(model, bare / "w.pth")


def test_the_app_shows_the_names_saved_beside_the_weights(weights_folders):
    named, bare = weights_folders
    assert load(path_choice(CONFIG, named)).class_names == ("pothole",)
    assert load(path_choice(CONFIG, bare)).class_names == ("class 0",)


def test_names_given_in_the_sidebar_win(weights_folders):
    named, _ = weights_folders
    given = path_choice(CONFIG, named, class_names=("crack",))
    assert given.key != path_choice(CONFIG, named).key  # another name: another cached model and analysis
    assert load(given).class_names == ("crack",)
    too_many = load(path_choice(CONFIG, named, class_names=("crack", "scratch")))
    assert too_many.class_names == ("crack",)
    assert any("2 class names given (crack, scratch) for a model of 1 class" in n for n in too_many.notes)


def test_metadata_for_another_number_of_classes_is_not_used(tmp_path, weights_folders):
    _, bare = weights_folders
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "w.pth").write_bytes(bare.read_bytes())
    write_metadata(folder, ["a", "b"])
    assert load(path_choice(CONFIG, folder / "w.pth")).class_names == ("class 0",)


def test_analyze_takes_class_names_from_the_option_or_the_metadata(tmp_path, weights_folders, capsys):
    named, _ = weights_folders
    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(image)
    common = [str(image), "--compare", "none", "--cam-layers", "c4", "--threshold", "0.99"]

    assert main(["analyze", *common, "--out", str(tmp_path / "a"), "--model", f"{CONFIG}:{named}"]) == 0
    report = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert report["models"][0]["class_names"] == ["pothole"]

    assert main(["analyze", *common, "--out", str(tmp_path / "b"), "--model", f"{CONFIG}:{named}",
                 "--class-names", " crack "]) == 0
    report = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert report["models"][0]["class_names"] == ["crack"]

    capsys.readouterr()
    status = main(["analyze", *common, "--out", str(tmp_path / "c"), "--model", f"{CONFIG}:{named}",
                   "--class-names", "crack, scratch"])
    err = capsys.readouterr().err
    assert status == 2 and "--class-names: 2 class names given (crack, scratch) for a model of 1 class" in err
    assert "Traceback" not in err
