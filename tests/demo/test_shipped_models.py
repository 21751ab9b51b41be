"""The shipped demo pair: small float16 files that load into their configs and find the cracks
in the gallery."""

import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_util

import models
from demo.dataset import SAMPLES_DIR
from models.zoo import NAMED, WEIGHTS_DIR, resolve
from viz.capture import capture
from viz.images import load_image

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def loaded():
    return {name: models.load_model(resolve(name).config, resolve(name).weights)
            for name in ("demo-bam", "demo-baseline")}


@pytest.fixture(scope="module")
def gallery():
    coco = json.loads((SAMPLES_DIR / "annotations.json").read_text())
    masks = {im["id"]: [] for im in coco["images"]}
    for a in coco["annotations"]:
        masks[a["image_id"]].append(mask_util.decode(a["segmentation"]).astype(bool))
    return [(load_image(SAMPLES_DIR / im["file_name"]), masks[im["id"]]) for im in coco["images"]]


@pytest.mark.parametrize("name", ["demo-bam", "demo-baseline"])
def test_weights_are_small_float16_files(name):
    path = NAMED[name].weights
    assert path.parent == WEIGHTS_DIR and path.stat().st_size <= 35 * MIB
    state = models.read_state_dict(path)
    assert all(t.dtype == torch.float16 for t in state.values() if t.is_floating_point())


def test_they_load_strictly_into_their_configs(loaded):
    bam, _ = loaded["demo-bam"]
    baseline, _ = loaded["demo-baseline"]
    assert sum(".attention." in k for k in bam.state_dict()) > 0
    assert not any(".attention." in k for k in baseline.state_dict())


@pytest.mark.parametrize("name", ["demo-bam", "demo-baseline"])
def test_they_find_the_cracks_in_the_gallery(loaded, gallery, name):
    model, cfg = loaded[name]
    found, positives, quiet, negatives = 0, 0, 0, 0
    for image, truth in gallery:
        instances = capture(model, cfg, image).instances
        confident = instances.pred_masks[instances.scores >= 0.5].numpy()
        if truth:
            positives += 1
            union = np.any(truth, axis=0)
            found += any((m & union).sum() > 0.3 * m.sum() for m in confident)  # a detection on a crack
        else:
            negatives += 1
            quiet += len(confident) == 0
    assert found >= positives - 1, f"{name}: found cracks in {found} of {positives} gallery images with cracks"
    assert quiet >= negatives // 2, f"{name}: quiet on {quiet} of {negatives} gallery images without cracks"
