"""Which device a model runs on: one rule for the app, `analyze`, `evaluate` and `train`.

"auto" (the default everywhere): CUDA when this machine has it, else the CPU. A config's
MODEL.DEVICE is only a wish: detectron2 defaults it to "cuda", so a stock config on a machine
without a GPU runs on the CPU, with a note saying so, instead of failing. An explicit request
("cpu", "cuda", "cuda:1") is obeyed, and one this machine cannot meet is an error.
"""

from __future__ import annotations

import torch

from models.errors import ModelLoadError


def cuda_count() -> int:
    """How many CUDA GPUs this process can use (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def choose_device(requested: str = "auto", configured: str = "") -> tuple[str, str | None]:
    """(the device to use, a note for the user or None).

    requested: "auto", "cpu", "cuda" or "cuda:N" (the user's choice); configured: the config's
    MODEL.DEVICE. Raises ModelLoadError for an explicit CUDA request this machine cannot meet.
    """
    requested = (requested or "auto").strip().lower()
    count = cuda_count()
    if requested == "auto":
        if count:
            return "cuda", None
        if configured.strip().lower().startswith("cuda"):
            return "cpu", f"the config asks for {configured!r} but this machine has no CUDA GPU: running on the CPU"
        return "cpu", None
    if requested == "cpu":
        return "cpu", None
    if requested.startswith("cuda"):
        index = requested.partition(":")[2]
        if not count:
            raise ModelLoadError(f"device {requested!r} asked for, but this machine has no CUDA GPU "
                                 f"(use 'auto' or 'cpu').")
        if index and (not index.isdigit() or int(index) >= count):
            raise ModelLoadError(f"device {requested!r}: this machine has {count} CUDA GPU(s), "
                                 f"cuda:0 to cuda:{count - 1}.")
        return requested, None
    raise ModelLoadError(f"device {requested!r}: use one of auto, cpu, cuda, cuda:N.")
