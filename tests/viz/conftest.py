import numpy as np
import pytest
import torch

import models
from tests.conftest import config


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
