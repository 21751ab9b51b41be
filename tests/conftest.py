"""Shared fixtures. Importing `models` first makes detectron2 importable (see models/__init__)."""

import pytest
import torch

import models


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def config_dir():
    return models.CONFIG_DIR


def config(name: str, *opts: str):
    return models.get_config(models.CONFIG_DIR / f"{name}.yaml", list(opts))


@pytest.fixture(scope="session")
def pair():
    """A small R-18 BAM model and its baseline, seeded, at a small test size: ((model, cfg), (model, cfg))."""
    torch.manual_seed(0)
    opts = ("INPUT.MIN_SIZE_TEST", "160", "INPUT.MAX_SIZE_TEST", "256")
    cfg_with, cfg_without = config("mask_rcnn_R_18_FPN_bam", *opts), config("mask_rcnn_R_18_FPN", *opts)
    return (models.build_model(cfg_with), cfg_with), (models.build_model(cfg_without), cfg_without)
