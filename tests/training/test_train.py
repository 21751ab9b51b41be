"""Training runs, resumes where it stopped, validates at the end and starts where it is told.

The shared `trained_run` (conftest) trains the R-18 BAM config for 4 iterations on a tiny
dataset, then resumes to 6 through the `train` command with a validation set."""

import json

import pytest
import torch

import models
from tests.coco import BAM_CONFIG, SMALL
from training.data import DataProblemsError
from training.train import checkpoint_start_iter, train


def test_training_writes_checkpoints_metrics_config_and_fp16_weights(trained_run):
    phase1 = trained_run["phase1"]
    assert {"config.yaml", "metrics.json", "log.txt", "last_checkpoint", "model_0000001.pth",
            "model_0000003.pth", "model_final.pth", "model_final_fp16.pth"} <= set(phase1["files"])
    assert phase1["final"].name == "model_final_fp16.pth"
    assert phase1["metrics"][-1]["iteration"] == 3  # 4 iterations: 0..3
    assert "total_loss" in phase1["metrics"][-1]
    assert phase1["last_checkpoint"] == "model_final.pth"


def test_resume_continues_from_the_last_checkpoint(trained_run):
    out = trained_run["out"]
    assert trained_run["resume_status"] == 0
    assert [m["iteration"] for m in trained_run["metrics"]] == [3, 5]  # appended, not restarted
    log = (out / "log.txt").read_text()
    assert "Starting training from iteration 0" in log and "Starting training from iteration 4" in log
    assert "2 negatives" in log  # images without annotations are trained on
    assert checkpoint_start_iter(out) == 6
    assert (out / "model_0000005.pth").is_file()


def test_the_final_weights_load_with_the_saved_config(trained_run):
    out = trained_run["out"]
    weights = torch.load(out / "model_final_fp16.pth", weights_only=True)["model"]
    assert all(v.dtype == torch.float16 for v in weights.values() if v.is_floating_point())
    model, cfg = models.load_model(out / "config.yaml", out / "model_final_fp16.pth")  # strict
    assert cfg.MODEL.ATTENTION.TYPE == "bam" and cfg.SOLVER.MAX_ITER == 6
    assert cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS is False and cfg.INPUT.MASK_FORMAT == "bitmask"
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 1


def test_validation_reports_after_training(trained_run):
    report = json.loads((trained_run["out"] / "validation" / "evaluation.json").read_text())
    assert list(report["models"]) == ["mask_rcnn_R_18_FPN_bam"]
    assert report["models"]["mask_rcnn_R_18_FPN_bam"]["image_level"]["images"] == 6


def test_training_refuses_bad_data_before_starting(tiny_coco, tmp_path):
    json_path, image_dir = tiny_coco
    (image_dir / "img_003.png").unlink()
    with pytest.raises(DataProblemsError) as caught:
        train(BAM_CONFIG, json_path, image_dir, tmp_path / "run", iters=2,
              val_json=tmp_path / "missing.json", val_images=image_dir)
    assert len(caught.value.problems) == 2
    assert not (tmp_path / "run").exists()


def _stream(json_path, image_dir, seed):
    from training.data import register_coco_dataset
    from training.train import TrainingStream, training_config

    from detectron2.data import DatasetCatalog, DatasetMapper

    cfg = training_config(BAM_CONFIG, json_path, image_dir, "unused", num_classes=1, seed=seed,
                          opts=["INPUT.MIN_SIZE_TRAIN", "(96, 128)", "INPUT.MAX_SIZE_TRAIN", "128"])
    records = DatasetCatalog.get(register_coco_dataset(json_path, image_dir))
    return TrainingStream(records, DatasetMapper(cfg, is_train=True), seed=seed)


def _fingerprint(sample):
    return sample["image_id"], tuple(sample["image"].shape), float(sample["image"].float().sum())


def test_the_training_stream_depends_only_on_seed_and_position(shared_coco):
    first = [_fingerprint(_stream(*shared_coco, seed=0)[p]) for p in range(14)]
    torch.manual_seed(123)  # other random draws (e.g. a different model's initialisation) ...
    import numpy as np
    np.random.seed(7)
    stream = _stream(*shared_coco, seed=0)
    assert [_fingerprint(stream[p]) for p in range(14)] == first  # ... change nothing
    assert [_fingerprint(stream[p]) for p in (9, 3)] == [first[9], first[3]]  # resuming at any position
    assert sorted(f[0] for f in first[:6]) == [1, 2, 3, 4, 5, 6]  # each pass shows every image once
    assert [f[0] for f in first[:6]] != [f[0] for f in first[6:12]]  # reshuffled per pass
    assert len({f[1] for f in first}) > 1  # augmentation: two training sizes
    other = [_fingerprint(_stream(*shared_coco, seed=1)[p]) for p in range(14)]
    assert other != first


def test_same_seed_same_training(trained_run, shared_coco, tmp_path):
    """A second run with the seed of the shared run's first phase reproduces its losses."""
    json_path, image_dir = shared_coco
    train(BAM_CONFIG, json_path, image_dir, tmp_path / "again", iters=4, seed=0, opts=SMALL)
    again = [json.loads(line) for line in (tmp_path / "again" / "metrics.json").read_text().splitlines()]
    before = trained_run["phase1"]["metrics"]
    for key in ("total_loss", "loss_cls", "loss_mask", "loss_rpn_cls"):
        assert again[-1][key] == pytest.approx(before[-1][key], rel=1e-4), key


def test_a_finished_run_is_not_overwritten_without_resume(trained_run, shared_coco):
    from training.train import RunExistsError

    with pytest.raises(RunExistsError, match="--resume"):
        train(BAM_CONFIG, *shared_coco, trained_run["out"], iters=2, opts=SMALL)


def test_init_weights_load_what_fits(random_baseline, shared_coco, tmp_path):
    """Plain R-18 weights into the BAM model: all but the attention modules' keys are used."""
    _, weights = random_baseline
    train(BAM_CONFIG, *shared_coco, tmp_path / "run", iters=1, init_weights=weights, opts=SMALL)
    log = (tmp_path / "run" / "log.txt").read_text()
    model, _ = models.load_model(BAM_CONFIG)
    attention_keys = sum(1 for k in model.state_dict() if ".attention." in k and not k.endswith("num_batches_tracked"))
    assert f"Initial weights from weights.pth: {attention_keys} model keys not in the file" in log
    assert "0 file keys not in the model" in log


def test_init_weights_that_fit_nothing_are_refused(shared_coco, tmp_path):
    foreign = tmp_path / "resnet18.pth"
    torch.save({"layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3), "fc.weight": torch.zeros(10, 512)}, foreign)
    with pytest.raises(models.CheckpointError, match="none of its 2 keys"):
        train(BAM_CONFIG, *shared_coco, tmp_path / "run", iters=1, init_weights=foreign, opts=SMALL)
