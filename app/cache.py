"""Every st.cache_* of the app, in one place.

- Models: built once per (config, weights) and shared by all sessions (cache_resource).
- Analyses: one per (model, image), shared, never copied (cache_resource: a Capture holds
  detectron2 Instances and many arrays), and so frozen: read-only arrays and mappings
  (viz/frozen.py); a page that wants another threshold or more CAMs gets a new object. Keys are
  plain strings: the model's key and the image's content hash; the objects themselves go in as
  `_`-prefixed arguments, which Streamlit does not hash. Display controls (score threshold,
  colormap, opacity, stage, channel, instance) are not part of any analysis key: changing them
  never re-runs the network.
- CAMs and sanity checks: one per (model, image, viz.gradcam.CamRequest), computed on demand;
  the costly ones inside `_heavy`, a slot of the server-wide limit taken on a miss only
  (app/heavy_jobs.run_cached).
- Per-session temp folder for uploaded model files, removed when the session ends.

Sizes (R-18 demo models): an analysis of a 320 px image holds about 10 MB (feature, attention
and FPN maps, masks); of a 1333 x 1000 image 20-40 MB, plus 1.3 MB per detection's full-size
mask. `max_entries` bounds each cache (the least recently used entry goes first), so a busy
server stays within about 1-2 GB beside the models.

An exception raised inside a cached function is not cached: a bad file is retried after a fix.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

from app import assets, exports
from app.model_choice import load
from models.loaded import LoadedModel, ModelSpec


@st.cache_resource(max_entries=8, show_spinner=False)
def model(key: str, _spec: ModelSpec) -> LoadedModel:
    """`key` is `_spec.key` (paths with size and modification time)."""
    return load(_spec)


@st.cache_data(show_spinner=False)
def samples() -> list[assets.ImageSource]:
    return assets.sample_images()


@st.cache_data(max_entries=32, show_spinner=False)
def decoded_image(digest: str, _data: bytes, name: str) -> tuple[np.ndarray, str | None]:
    """(the RGB image to analyse, a note if it was downscaled); raises viz.images.ImageError."""
    from viz.images import load_for_analysis

    return load_for_analysis(_data, name=name)


@st.cache_data(show_spinner=False)
def sample_credits() -> dict[str, list[str]]:
    return assets.sample_credits()


@st.cache_data(max_entries=64, show_spinner=False)
def ground_truth(name: str, digest: str) -> assets.GroundTruth | None:
    """The annotations of a demo sample (None for uploads and images without any)."""
    return assets.sample_ground_truth(name)


@st.cache_data(max_entries=256, show_spinner=False)
def image_problem(digest: str, _data: bytes, name: str) -> str | None:
    """Why an upload cannot be analysed (viz.images.ImageError's message), or None."""
    try:
        decoded_image(digest, _data, name)
    except ValueError as e:
        return str(e)
    return None


@st.cache_data(max_entries=256, show_spinner=False)
def thumbnail(digest: str, _data: bytes, name: str, side: int = 200) -> np.ndarray:
    return exports.thumbnail(decoded_image(digest, _data, name)[0], side)


def _remove_folder(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@st.cache_resource(scope="session", on_release=_remove_folder, show_spinner=False)
def session_folder() -> Path:
    """A temp folder of this session (uploaded configs and weights, evaluation reports)."""
    return Path(tempfile.mkdtemp(prefix="bamviz-"))


@st.cache_resource(max_entries=12, ttl=4 * 3600, show_spinner=False)
def analysis(model_key: str, image_key: str, _loaded: LoadedModel, _image: np.ndarray):
    """Predictions and every captured map (c2..c5, pre-attention, attention, p2..p6) of one image.
    Analysed at score threshold 0; pages look at it through
    viz.views.detections.at_threshold. Frozen (viz.analysis.ModelAnalysis): no session can change
    what another sees. CAMs: cached apart, by key (see `cam`)."""
    from viz import analysis as engine  # looked up at call time, so tests can count the calls

    return engine.analyze(_loaded.model, _loaded.cfg, _image, label=_loaded.label, class_names=_loaded.class_names,
                          score_threshold=0.0, cam_layers=(), fpn=True)


@st.cache_resource(max_entries=32, show_spinner=False)
def comparison(with_key: str, without_key: str, image_key: str, threshold: float, _with, _without):
    """Detection changes and per-stage feature differences at a threshold (no CAMs)."""
    from viz.analysis import compare
    from viz.views.detections import at_threshold

    return compare(at_threshold(_with, threshold), at_threshold(_without, threshold))


@st.cache_data(max_entries=64, show_spinner=False)
def cam(model_key: str, image_key: str, request, _loaded: LoadedModel, _analysis,
        _heavy: contextlib.AbstractContextManager | None = None) -> np.ndarray:
    """A CAM, (H, W) in [0, 1], of a viz.gradcam.CamRequest (an instance of this model, or another
    model's box scored by this one): the request, smoothing included, is part of the key."""
    from viz.gradcam import instance_cam

    with _heavy or contextlib.nullcontext():
        return instance_cam(_loaded.model, _analysis.capture.model_input, request, kept=_analysis.capture.stage_outputs)


@st.cache_data(max_entries=32, show_spinner=False)
def sanity(model_key: str, image_key: str, request, _loaded: LoadedModel, _analysis, _original: np.ndarray,
           _heavy: contextlib.AbstractContextManager | None = None):
    """viz.gradcam.sanity_check of that CAM (the model with randomized heads, the same request)."""
    from viz.gradcam import sanity_check

    with _heavy or contextlib.nullcontext():
        return sanity_check(_loaded.model, _analysis.capture.model_input, request, original=_original)


@st.cache_data(max_entries=24, show_spinner=False)
def detection_panels(with_key: str, without_key: str, image_key: str, threshold: float, _with, _without, _diff,
                     _image: np.ndarray):
    """viz.views.detections.detection_panels of the pair: (without, with), one colour per instance."""
    from viz.views.detections import detection_panels as panels

    return panels(_with, _without, _diff, _image)


def clear() -> None:
    """Forget every cached model and result (tests)."""
    st.cache_resource.clear()
    st.cache_data.clear()
