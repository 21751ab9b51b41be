"""What a page needs before it can draw: the image, both models, their analyses. Each function
shows a clear message and stops the page when something is missing; long work shows a spinner."""

from __future__ import annotations

import streamlit as st

from app import cache, views
from app.model_choice import LoadedModel
from app.sidebar import Selection, current


def selection() -> Selection:
    return current()


def require_pair(sel: Selection) -> tuple[LoadedModel, LoadedModel]:
    """Both models, or an error in the page and stop."""
    if sel.pair is None:
        for slot in sel.slots.values():
            if slot.error:
                st.error(f"The model {slot.role} attention is not loaded. {slot.error}", icon=":material/error:")
            elif slot.pending:
                st.info(slot.pending, icon=":material/upload_file:")
        st.stop()
    return sel.pair


def require_image(sel: Selection) -> None:
    if sel.image is None:
        st.warning("Choose or upload an image in the sidebar.", icon=":material/image:")
        st.stop()


def analyses(sel: Selection, pair: tuple[LoadedModel, LoadedModel]):
    """(with, without) analyses of the chosen image, seen at the sidebar's score threshold."""
    out = []
    for loaded in pair:
        with st.spinner(f"Analysing {sel.image_name} with {loaded.label}…"):
            result = cache.analysis(loaded.key, sel.image_key, loaded, sel.image)
        out.append(views.at_threshold(result, sel.threshold))
    return tuple(out)


def comparison(sel: Selection, pair: tuple[LoadedModel, LoadedModel], found):
    return cache.comparison(pair[0].key, pair[1].key, sel.image_key, sel.threshold, found[0], found[1])


def cam(loaded: LoadedModel, sel: Selection, analysis, box, class_id: int, method: str, target: str, layer: str):
    with st.spinner(f"{method} at {layer} for {loaded.label}…"):
        return cache.cam(loaded.key, sel.image_key, tuple(float(v) for v in box), int(class_id), method, target, layer,
                         loaded, analysis)
