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
