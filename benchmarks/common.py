"""What every benchmark shares: the models, the image, interleaved timing and the machine's description."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

import models

from detectron2.engine import DefaultPredictor


def build(config_name: str, size: int, *extra: str):
    """A model at random weights whose test resize keeps a size x size image as it is.

    Random weights make a random workload: a deep random ResNet gives huge features, the RPN's
    boxes all clip to the whole image, and R-50 ended with 3 proposals and no detection while
    R-50 + CBAM ran its heads on 1000 proposals and 100 detections. So the box regressors and the
    classifier are zeroed: proposals are anchors, every box scores the same, and every model runs
    its box head on the RPN's POST_NMS_TOPK_TEST proposals and its mask head on 100 detections.
    """
    torch.manual_seed(0)
    cfg = models.get_config(models.CONFIG_DIR / f"{config_name}.yaml",
                            ["INPUT.MIN_SIZE_TEST", str(size), "INPUT.MAX_SIZE_TEST", str(size),
                             "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", *extra])
    model = models.build_model(cfg)
    with torch.no_grad():
        for layer in (model.proposal_generator.rpn_head.anchor_deltas,
                      model.roi_heads.box_predictor.bbox_pred, model.roi_heads.box_predictor.cls_score):
            layer.weight.zero_()
            layer.bias.zero_()
    return model, cfg


def plain_predictor(model, cfg) -> DefaultPredictor:
    """detectron2's own DefaultPredictor (no_grad inference) around the same model object."""
    predictor = DefaultPredictor(cfg)
    predictor.model = model
    return predictor


def test_image(size: int) -> np.ndarray:
    """A synthetic crack image (size, size, 3) uint8 RGB, the kind the demo models see."""
    from demo.generator import make_sample

    return make_sample(np.random.default_rng(7), size=(size, size), p_negative=0.0).image


class Times(NamedTuple):
    """Seconds per repetition: wall clock (what a user waits) and this process's CPU time (its own
    work only, so it moves much less than wall time when other programs load the machine)."""

    wall: list[float]
    cpu: list[float]


def interleaved(runs: dict[str, Callable[[], object]], *, repetitions: int, warmup: int = 1) -> dict[str, Times]:
    """The Times of each run, {name: Times}, each list `repetitions` long.

    Every repetition runs each of them once, round-robin (ABCABC..., the starting one rotating),
    so that load from elsewhere on the machine falls on all of them alike.
    """
    for fn in runs.values():
        for _ in range(warmup):
            fn()
    names = list(runs)
    times = {name: Times([], []) for name in names}
    for rep in range(repetitions):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name]()
            times[name].wall.append(time.perf_counter() - wall)
            times[name].cpu.append(time.process_time() - cpu)
    return times


def ratio(seconds: list[float], reference: list[float]) -> str:
    """The median of the per-repetition ratios with their interquartile range, e.g. '1.02x (0.99-1.05)'."""
    ratios = [s / r for s, r in zip(seconds, reference)]
    low, _, high = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
    return f"{statistics.median(ratios):.2f}x ({low:.2f}-{high:.2f})"


def ratio_columns(times: Times, reference: Times) -> str:
    """Markdown cells: median wall seconds | wall-time ratio | CPU-time ratio."""
    return (f"{statistics.median(times.wall):.3f} | {ratio(times.wall, reference.wall)} | "
            f"{ratio(times.cpu, reference.cpu)}")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine(device: torch.device | str = "cpu") -> str:
    """One line: CPU, cores, torch threads, torch build, and the device the models run on."""
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
    blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    onednn = "oneDNN" if torch.backends.mkldnn.is_available() else "no oneDNN"
    device = torch.device(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return (f"{cpu_model()}, {os.cpu_count()} cores; torch {torch.__version__} ({build} build, {blas}, {onednn}, "
            f"{torch.backends.cpu.get_cpu_capability()}), torch threads: {torch.get_num_threads()}; device: {where}")
