"""Shared timing helpers for the benchmarks."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np
import torch

import models
from detectron2.engine import DefaultPredictor


def median_seconds(fn: Callable[[], object], *, runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(config_name: str, size: int, *extra: str):
    """A model at random weights whose test resize keeps a size x size image as it is."""
    torch.manual_seed(0)
    cfg = models.get_config(models.CONFIG_DIR / f"{config_name}.yaml",
                            ["INPUT.MIN_SIZE_TEST", str(size), "INPUT.MAX_SIZE_TEST", str(size), *extra])
    return models.build_model(cfg), cfg


def plain_predictor(model, cfg) -> DefaultPredictor:
    """detectron2's own DefaultPredictor (no_grad inference) around the same model object."""
    predictor = DefaultPredictor(cfg)
    predictor.model = model
    return predictor


def test_image(size: int) -> np.ndarray:
    """A synthetic crack image, the kind the demo models see."""
    from demo.generator import make_sample

    return make_sample(np.random.default_rng(7), size=(size, size), p_negative=0.0).image
