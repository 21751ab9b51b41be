"""The CUDA path, where a GPU exists (skipped elsewhere): models, analyses, CAMs and the sanity
check run on the GPU; captures come back to the CPU."""

import numpy as np
import pytest
import torch

import models
from models.device import cuda_count
from models.zoo import resolve

pytestmark = pytest.mark.skipif(cuda_count() == 0, reason="no CUDA GPU on this machine")


def test_auto_picks_the_gpu_and_the_whole_analysis_runs_there():
    from viz.analysis import analyze
    from viz.gradcam import CamRequest, sanity_check

    spec = resolve("demo-bam")
    opened = models.load(spec)
    assert opened.cfg.MODEL.DEVICE == "cuda" and next(opened.model.parameters()).is_cuda
    image = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    result = analyze(opened.model, opened.cfg, image, label="bam", class_names=("crack",), score_threshold=0.0,
                     cam_layers=("c4",))
    for maps in (result.capture.features, {k: v.spatial for k, v in result.capture.attention.items()}):
        for array in maps.values():
            assert isinstance(array, np.ndarray)  # back on the CPU
    assert result.cams and all(np.isfinite(cam).all() for cam in result.cams.values())
    box = result.capture.instances.pred_boxes.tensor[0].numpy()
    check = sanity_check(opened.model, result.capture.model_input, CamRequest(box, 0, method="GradCAM", layer="c4"))
    assert check is not None
    assert torch.cuda.memory_allocated() > 0
