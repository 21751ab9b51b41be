"""Augmentation sets at training time: "standard" is detectron2's mapper from the config, as the
shipped demo pair was trained; "photo" adds flips both ways, rotations, crops and colour changes
and keeps each mask on its crack."""

import numpy as np
import pytest
import torch

import models  # noqa: F401  (before detectron2)
from tests.coco import BAM_CONFIG, SMALL, make_coco_dataset
from training.data import register_coco_dataset, train_mapper
from training.train import training_config

from detectron2.data import DatasetCatalog, DatasetMapper


@pytest.fixture(scope="module")
def records_and_cfg(tmp_path_factory):
    json_path, image_dir = make_coco_dataset(tmp_path_factory.mktemp("aug"), n_positive=3, n_negative=1)
    cfg = training_config(BAM_CONFIG, json_path, image_dir, "unused", num_classes=1, opts=SMALL)
    return DatasetCatalog.get(register_coco_dataset(json_path, image_dir)), cfg


def _mapped(mapper, record, seed):
    np.random.seed(seed)  # detectron2's augmentations draw from np.random, as in TrainingStream
    return mapper(record)


def test_standard_is_detectron2s_mapper_from_the_config(records_and_cfg):
    records, cfg = records_and_cfg
    ours, theirs = train_mapper(cfg, "standard"), DatasetMapper(cfg, is_train=True)
    assert str(ours.augmentations) == str(theirs.augmentations)
    for seed in range(4):
        a, b = _mapped(ours, records[0], seed), _mapped(theirs, records[0], seed)
        assert torch.equal(a["image"], b["image"])
        assert torch.equal(a["instances"].gt_masks.tensor, b["instances"].gt_masks.tensor)


@pytest.mark.parametrize("name", ["photo", "zoom"])
def test_photo_sets_vary_the_image_and_keep_masks_on_the_cracks(records_and_cfg, name):
    records, cfg = records_and_cfg
    mapper = train_mapper(cfg, name)
    names = {type(a).__name__ for a in mapper.augmentations.augs}
    assert {"RandomBrightness", "RandomContrast", "RandomSaturation", "RandomApply", "RandomFlip"} <= names
    brightness, masks_seen = [], 0
    for seed in range(16):
        out = _mapped(mapper, records[0], seed)
        image = out["image"].float().mean(dim=0)  # CHW -> HW grey
        brightness.append(float(image.mean()))
        inst = out["instances"]
        for mask, box in zip(inst.gt_masks.tensor, inst.gt_boxes.tensor):
            if mask.sum() < 10:
                continue
            masks_seen += 1
            # The drawn lines are dark on a grey surface: masked pixels stay far darker.
            assert image[mask].mean() < image[~mask].mean() - 40
            ys, xs = torch.nonzero(mask, as_tuple=True)
            tight = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
            assert box.tolist() == pytest.approx(tight, abs=1.01)
    assert masks_seen >= 10
    assert np.ptp(brightness) > 10  # photometric changes happened
    negatives = [r for r in records if not r["annotations"]]
    assert negatives
    for seed, record in enumerate(negatives):  # no instances, nothing to box
        assert len(_mapped(mapper, record, seed)["instances"]) == 0


def test_unknown_set_is_one_sentence(records_and_cfg):
    _, cfg = records_and_cfg
    with pytest.raises(ValueError, match="unknown augmentation set 'fancy'; choose one of standard, photo"):
        train_mapper(cfg, "fancy")


def test_the_train_command_offers_every_set():
    from app.cli import build_parser
    from training.data import AUGMENTATIONS

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    (augment,) = [a for a in train._actions if a.dest == "augment"]
    assert tuple(augment.choices) == tuple(AUGMENTATIONS)
