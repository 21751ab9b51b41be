"""evaluation.loader: each image decoded once, in worker processes, into exactly the input each model
would have prepared itself; and evaluate() through it giving what it gave reading images itself."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

import models
from evaluation.evaluate import evaluate, max_score
from evaluation.loader import PrepareInputs, default_workers, input_key, load_images, model_input
from models.inputs import prepare_input
from tests import hostile
from tests.coco import BAM_CONFIG, BASELINE_CONFIG, SMALL
from training.data import DataProblemsError, register_coco_dataset

from detectron2.data import DatasetCatalog, DatasetMapper
from detectron2.data.detection_utils import read_image

OTHER_SIZE = ["INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "112"]


def _records(json_path, image_dir):
    return [{k: d[k] for k in ("image_id", "file_name", "height", "width")}
            for d in DatasetCatalog.get(register_coco_dataset(json_path, image_dir))]


def test_models_with_the_same_resize_share_one_input_each_gets_its_own(shared_coco):
    plain, bam = models.get_config(BASELINE_CONFIG, SMALL), models.get_config(BAM_CONFIG, SMALL)
    other = models.get_config(BAM_CONFIG, SMALL + OTHER_SIZE)
    records = _records(*shared_coco)
    loaded = list(load_images(records, [plain, bam, other], workers=2))
    assert [r["image_id"] for r in loaded] == [r["image_id"] for r in records]  # in order, each once
    for record in loaded:
        assert len(record["inputs"]) == 2  # plain and bam share theirs
        image = read_image(record["file_name"], format="RGB")
        for cfg in (plain, bam, other):
            expected = prepare_input(image, cfg)
            got = model_input(record, cfg)
            assert torch.equal(got.image, expected.image)
            assert (got.height, got.width) == (expected.height, expected.width)
        assert model_input(record, plain) is model_input(record, bam)
        assert model_input(record, other).input_size == (96, 96)


def test_the_input_is_detectron2s_test_mapper_input(shared_coco):
    """What inference_on_dataset feeds the model (DatasetMapper(cfg, is_train=False): uint8, cfg's
    channel order) holds the same values, so the two evaluations are of the same inputs."""
    cfg = models.get_config(BAM_CONFIG, SMALL + OTHER_SIZE)
    mapper = DatasetMapper(cfg, is_train=False)
    for record in _records(*shared_coco):
        ours = PrepareInputs([cfg])(record)["inputs"][input_key(cfg)]
        assert torch.equal(ours.image, mapper(dict(record))["image"].float())


def test_evaluate_reads_images_in_workers_as_it_did_itself(random_baseline, shared_coco, tmp_path):
    json_path, image_dir = shared_coco
    runs, loaded = {}, [models.load(models.ModelSpec("A", *random_baseline))]
    for workers in (0, 2):
        runs[workers] = evaluate(loaded, json_path, image_dir, tmp_path / str(workers), threshold=0.0, progress=False,
                                 workers=workers)
        runs[workers].models["A"].seconds_per_image = None
    assert runs[0] == runs[2]
    # the path before the loader: read, prepare and run per model and image
    model, cfg = models.load_model(*random_baseline)
    scores = json.loads((tmp_path / "2" / "images.json").read_text())["images"]
    for record, row in zip(_records(json_path, image_dir), scores, strict=True):
        with torch.no_grad():
            output = model.eval()(prepare_input(read_image(record["file_name"], format="RGB"), cfg).batch())[0]
        assert row["max_scores"]["A"] == round(max_score(output["instances"]), 6)


@pytest.mark.parametrize("workers", [0, 1])
def test_an_unreadable_image_is_one_sentence_not_a_worker_traceback(tiny_coco, workers):
    records = _records(*tiny_coco)
    broken = records[2]["file_name"]
    with open(broken, "r+b") as f:
        f.truncate(100)
    loaded = load_images(records, [models.get_config(BASELINE_CONFIG, SMALL)], workers=workers)
    assert next(loaded)["image_id"] == records[0]["image_id"]
    with pytest.raises(DataProblemsError) as caught:
        list(loaded)
    (problem,) = caught.value.problems
    assert problem.startswith(f"image {records[2]['image_id']} ('img_002.png'): cannot be read as an image")
    assert "\n" not in problem and "Traceback" not in problem


def test_default_workers_are_the_configs_at_most_one_per_core():
    few, many = models.get_config(BASELINE_CONFIG, ["DATALOADER.NUM_WORKERS", "0"]), models.get_config(
        BASELINE_CONFIG, ["DATALOADER.NUM_WORKERS", "512"])
    assert default_workers([few]) == 0
    assert default_workers([few, many]) == os.cpu_count()


def test_the_loader_refuses_a_file_changed_after_the_check_in_one_sentence(tiny_coco):
    """The check ran; then one file became a GIF, another a 1 x 40000 strip: sentences, not tracebacks."""
    json_path, image_dir = tiny_coco
    cfg = models.get_config(models.CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml")
    prepare = PrepareInputs([cfg])
    hostile.gif_named(image_dir / "img_004.png")
    Image.fromarray(np.zeros((1, 40000, 3), np.uint8)).save(image_dir / "img_005.png")
    gif = prepare({"image_id": 5, "file_name": str(image_dir / "img_004.png")})
    strip = prepare({"image_id": 6, "file_name": str(image_dir / "img_005.png")})
    assert gif["problem"] == "image 5 ('img_004.png'): cannot be read as an image (img_004.png: not JPEG, " \
                             "PNG, BMP, TIFF or WebP)."
    assert strip["problem"] == "image 6 ('img_005.png'): 40000x1 pixels is too narrow to resize for the models."
    assert "inputs" in prepare({"image_id": 1, "file_name": str(image_dir / "img_000.png")})
