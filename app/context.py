"""What a page needs before it can draw: the image, both models, their analyses. Each function
shows a clear message and stops the page when something is missing; long work shows a spinner.
`page()` is the preamble every page starts with."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import streamlit as st

from app import cache, heavy_ui, widgets
from app.sidebar import Selection, current
from app.text import literal
from models.loaded import LoadedModel
from viz.analysis import ModelAnalysis
from viz.views.detections import at_threshold


class PageInputs(NamedTuple):
    sel: Selection
    pair: tuple[LoadedModel, LoadedModel]  # (with attention, without)
    found: tuple[ModelAnalysis, ModelAnalysis] | None  # their analyses of the image at the threshold


def page(title: str, *, image: bool = True, intro: Callable[[Selection], None] | None = None) -> PageInputs:
    """The title and what is analysed; `intro(selection)` if given; then both models and, with
    `image`, the chosen image and both analyses of it. Stops the page with a message where
    something is missing."""
    sel = current()
    widgets.page_header(title, sel, sel.pair)
    if intro is not None:
        intro(sel)
    if image:
        require_image(sel)
    pair = require_pair(sel)
    return PageInputs(sel, pair, analyses(sel, pair) if image else None)


def require_pair(sel: Selection) -> tuple[LoadedModel, LoadedModel]:
    """Both models, or an error in the page and stop."""
    if sel.pair is None:
        for slot in sel.slots.values():
            if slot.error:
                st.error(f"The model {slot.role} attention is not loaded. {literal(slot.error)}",
                         icon=":material/error:")
            elif slot.pending:
                st.info(slot.pending, icon=":material/upload_file:")
        st.stop()
    return sel.pair


def require_image(sel: Selection) -> None:
    if sel.image is None:
        st.warning("Choose or upload an image in the sidebar.", icon=":material/image:")
        st.stop()


def analyses(sel: Selection, pair: tuple[LoadedModel, LoadedModel]) -> tuple[ModelAnalysis, ModelAnalysis]:
    """(with, without) analyses of the chosen image, seen at the sidebar's score threshold."""
    out = []
    for loaded in pair:
        with st.spinner(f"Analysing {sel.image_name} with {loaded.label}…"):
            result = cache.analysis(loaded.key, sel.image_key, loaded, sel.image)
        out.append(at_threshold(result, sel.threshold))
    return tuple(out)


def comparison(sel: Selection, pair: tuple[LoadedModel, LoadedModel], found):
    return cache.comparison(pair[0].key, pair[1].key, sel.image_key, sel.threshold, found[0], found[1])


# a CAM computes once started (and is kept); its wait ends with the run, and a rerun with the same choices waits again
STOP_WAITING = "To stop waiting, choose GradCAM or another light method, or turn smoothing off."


def heavy_cam(method: str, aug_smooth: bool = False, eigen_smooth: bool = False) -> bool:
    """Whether a CAM is heavy work (the server-wide limit of app/heavy_jobs.py): the perturbation
    methods (a forward pass per channel) and smoothing (aug_smooth: three CAMs; eigen_smooth: an SVD)."""
    from viz.gradcam import PERTURBATION_METHODS

    return method in PERTURBATION_METHODS or aug_smooth or eigen_smooth


def cam(loaded: LoadedModel, sel: Selection, analysis, box, class_id: int, method: str, target: str, layer: str,
        *, aug_smooth: bool = False, eigen_smooth: bool = False):
    what = f"{method} at {layer} for {loaded.label}"
    box = tuple(float(v) for v in box)

    def run(gate):
        return cache.cam(loaded.key, sel.image_key, box, int(class_id), method, target, layer, loaded, analysis,
                         aug_smooth=aug_smooth, eigen_smooth=eigen_smooth, _heavy=gate)

    with st.spinner(f"{what}…"):
        if heavy_cam(method, aug_smooth, eigen_smooth):
            return heavy_ui.cached(run, what, hint=STOP_WAITING)
        return run(None)


def sanity(loaded: LoadedModel, sel: Selection, analysis, box, class_id: int, method: str, target: str, layer: str,
           original, *, aug_smooth: bool = False, eigen_smooth: bool = False):
    """cache.sanity of a CAM, inside the server-wide limit when the CAM is heavy (see `cam`)."""
    what = f"Sanity check of {method} at {layer} for {loaded.label}"

    def run(gate):
        return cache.sanity(loaded.key, sel.image_key, tuple(box), class_id, method, target, layer, aug_smooth,
                            eigen_smooth, loaded, analysis, original, _heavy=gate)

    with st.spinner("Sanity check: the same CAM with randomized heads…"):
        if heavy_cam(method, aug_smooth, eigen_smooth):
            return heavy_ui.cached(run, what, hint=STOP_WAITING)
        return run(None)
