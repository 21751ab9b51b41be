"""Fine-tuning from a model trained on other classes, and the class names a run leaves beside its weights."""

import json

import torch

import models
from models.metadata import read_class_names
from tests.coco import BAM_CONFIG, SMALL

HEADS = ["roi_heads.box_predictor.bbox_pred.bias", "roi_heads.box_predictor.bbox_pred.weight",
         "roi_heads.box_predictor.cls_score.bias", "roi_heads.box_predictor.cls_score.weight",
         "roi_heads.mask_head.predictor.bias", "roi_heads.mask_head.predictor.weight"]


def test_init_weights_of_a_two_class_model_start_a_one_class_run(shared_coco, tmp_path):
    """The detectron2 workflow from a model for other classes to one's own: the class-specific
    heads are skipped (and listed), everything else is loaded."""
    torch.manual_seed(5)
    source = models.build_model(models.get_config(BAM_CONFIG, SMALL + ["MODEL.ROI_HEADS.NUM_CLASSES", "2"]))
    with torch.no_grad():
        for p in source.parameters():
            p.normal_(std=0.05)
    init = models.save_weights(source, tmp_path / "two_classes.pth", half=False)
    out = tmp_path / "run"

    from training.train import train

    # learning rate 0: one iteration leaves the loaded weights as they were, so they can be compared
    train(BAM_CONFIG, *shared_coco, out, iters=1, init_weights=init, opts=SMALL + ["SOLVER.BASE_LR", "0.0"])

    log = (out / "log.txt").read_text()
    assert "Initial weights from two_classes.pth: 0 model keys not in the file" in log
    assert "two_classes.pth: 6 tensors skipped, their shapes differ from this model's" in log
    assert "roi_heads.box_predictor.cls_score.weight: file (3, 256) vs model (2, 256)" in log
    trained = torch.load(out / "model_final.pth", weights_only=True)["model"]
    expected = source.state_dict()
    compared = 0
    for key, value in trained.items():
        if key in HEADS:
            assert value.shape != expected[key].shape, key
        elif not key.endswith(("running_mean", "running_var", "num_batches_tracked")):  # BN statistics move
            assert torch.equal(value, expected[key]), key
            compared += 1
    assert compared > 150


def test_training_writes_the_class_names_beside_its_weights(trained_run):
    out = trained_run["out"]
    assert json.loads((out / "metadata.json").read_text()) == {"thing_classes": ["crack"]}
    assert read_class_names(out / "model_final_fp16.pth", 1) == ("crack",)
