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
    widgets.page_header(title, sel, sel.pair, image=image)
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
            if slot.error:  # the headline only: its details are in the sidebar, folded
                st.error(f"The model {slot.role} attention is not loaded. {literal(slot.error)}"
                         + (" (Details in the sidebar.)" if slot.error_details else ""), icon=":material/error:")
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


def cam(loaded: LoadedModel, image_key: str, analysis, request):
    """cache.cam of a viz.gradcam.CamRequest, with a spinner; inside the server-wide limit when
    the request is heavy work (a perturbation method, smoothing)."""
    what = f"{request.method} at {request.layer} for {loaded.label}"

    def run(gate):
        return cache.cam(loaded.key, image_key, request, loaded, analysis, _heavy=gate)

    with st.spinner(f"{what}…"):
        if request.heavy:
            return heavy_ui.cached(run, what, hint=STOP_WAITING)
        return run(None)


def cam_source(loaded: LoadedModel, image_key: str, analysis):
    """(instance index, layer) -> `cam` of that instance by the analysis's method and target: the
    CAMs viz.analysis.with_cam_differences asks for, through the cache."""
    from viz.analysis import cam_request

    return lambda index, layer: cam(loaded, image_key, analysis, cam_request(analysis, index, layer))


def sanity(loaded: LoadedModel, image_key: str, analysis, request, original):
    """cache.sanity of a CAM, inside the server-wide limit when the CAM is heavy (see `cam`)."""
    what = f"Sanity check of {request.method} at {request.layer} for {loaded.label}"

    def run(gate):
        return cache.sanity(loaded.key, image_key, request, loaded, analysis, original, _heavy=gate)

    with st.spinner("Sanity check: the same CAM with randomized heads…"):
        if request.heavy:
            return heavy_ui.cached(run, what, hint=STOP_WAITING)
        return run(None)
