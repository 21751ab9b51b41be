import numpy as np
import pytest
import torch

import models
from tests.conftest import config


def analyze_pair(pair, image, *, score_threshold: float, fpn: bool):
    """Both models of the `pair` fixture analysed on `image` without CAMs: (BAM, baseline)."""
    from viz.analysis import analyze

    (m1, c1), (m0, c0) = pair
    return tuple(analyze(model, cfg, image, label=label, class_names=("crack",), score_threshold=score_threshold,
                         cam_layers=(), fpn=fpn) for model, cfg, label in ((m1, c1, "BAM"), (m0, c0, "base")))


def hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


@pytest.fixture(scope="session")
def r18_bam():
    torch.manual_seed(0)  # session fixtures are built before the per-test seed
    cfg = config("mask_rcnn_R_18_FPN_bam", "INPUT.MIN_SIZE_TEST", "192", "INPUT.MAX_SIZE_TEST", "320")
    return models.build_model(cfg), cfg


@pytest.fixture(scope="session")
def image():
    rng = np.random.default_rng(0)
    img = (rng.random((150, 230, 3)) * 60 + 120).astype(np.uint8)
    img[40:50, 20:200] = 20  # something for the model to see
    return img
