"""The one place that makes detectron2 v0.6 work with today's libraries.

The project runs on an official detectron2 build (from source, with its compiled ops) or, where
none is installed, on the v0.6 Python sources without compiled ops (tools/install_detectron2.py).
v0.6 predates current Pillow, NumPy and setuptools, and some of its modules import the compiled
`detectron2._C` at import time. Importing this module before detectron2 fixes that, without
editing detectron2 and without downgrading Pillow (the app opens untrusted images):

- `PIL.Image.LINEAR` (removed in Pillow 10) is an alias of `PIL.Image.BILINEAR`: the same filter.
- `numpy.bool` (missing in NumPy 1.24-1.26) is the builtin `bool`, which is what it always was.
- `pkg_resources` (removed from recent setuptools), used only by `detectron2.model_zoo` to find
  its bundled configs, gets a stand-in offering `resource_filename`.
- `detectron2._C` missing: a stand-in module lets detectron2 import; calling any compiled op
  (rotated boxes, deformable convolution, the fast COCO evaluator) raises a clear error instead.
  Standard Mask R-CNN uses torchvision's nms / roi_align and never reaches it.

- torch's warnings about `torch.jit.script` (used by detectron2 on import) and `torch.meshgrid`
  without `indexing` (used in its anchor generator) are silenced: they are about detectron2's
  code, and they would flood every log and the app's console.

Every fix applies only when the thing it replaces is missing, so an official build and current
libraries are left exactly as they are.
"""

from __future__ import annotations

import importlib.machinery
import importlib.resources
import importlib.util
import os
import sys
import types
import warnings

import numpy as np
import PIL.Image

COMPILED_OPS_MISSING = (
    "detectron2 was installed without its compiled C++/CUDA ops (pure-Python v0.6); "
    "'{name}' needs them. Standard Mask R-CNN does not. Build detectron2 from source to use it."
)


def _patch_pillow() -> None:
    if not hasattr(PIL.Image, "LINEAR"):
        PIL.Image.LINEAR = PIL.Image.BILINEAR


def _patch_numpy() -> None:
    # NumPy 1.24-1.26 lack it (their __getattr__ raises); NumPy 2 has it again as np.bool_.
    if getattr(np, "bool", None) is None:
        np.bool = bool


def _resource_filename(package: str, resource: str) -> str:
    return str(importlib.resources.files(package).joinpath(resource))


def _patch_pkg_resources() -> None:
    if "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return
    shim = types.ModuleType("pkg_resources")
    shim.__doc__ = "Stand-in from models.detectron2_compat: only resource_filename."
    shim.resource_filename = _resource_filename
    sys.modules["pkg_resources"] = shim


class _MissingCompiledOps(types.ModuleType):
    """Stands in for `detectron2._C`; any op looked up on it raises a readable error."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(COMPILED_OPS_MISSING.format(name=name))


def _patch_compiled_ops() -> None:
    if "detectron2._C" in sys.modules:
        return
    spec = importlib.util.find_spec("detectron2")
    if spec is None or spec.submodule_search_locations is None:
        return  # detectron2 is not installed; importing it will say so
    for location in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            if os.path.exists(f"{location}/_C{suffix}"):
                return  # an official build: use its real ops
    sys.modules["detectron2._C"] = _MissingCompiledOps("detectron2._C")


def apply() -> None:
    """Apply every fix that is needed; safe to call more than once."""
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r"torch\.meshgrid: in an upcoming release", category=UserWarning)
    _patch_pillow()
    _patch_numpy()
    _patch_pkg_resources()
    _patch_compiled_ops()


apply()
