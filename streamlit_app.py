"""Entry point: `streamlit run streamlit_app.py`. Page set-up and routing only: the sidebar (image,
score threshold, models) is drawn here so that it keeps its state across pages; each page draws
itself (app/pages/)."""

import sys

import streamlit as st

st.set_page_config(page_title="BAM attention explorer", page_icon=":material/center_focus_weak:", layout="wide")
page = st.navigation({
    "Inspect": [
        st.Page("app/pages/detections.py", title="Detections", icon=":material/select_all:", default=True),
        st.Page("app/pages/attention.py", title="Hierarchical attention", icon=":material/layers:"),
        st.Page("app/pages/features.py", title="Feature maps", icon=":material/grid_view:"),
        st.Page("app/pages/gradcam.py", title="Grad-CAM", icon=":material/local_fire_department:"),
    ],
    "Present and measure": [
        st.Page("app/pages/compare.py", title="With vs without BAM", icon=":material/compare:"),
        st.Page("app/pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        st.Page("app/pages/attention_measured.py", title="Attention, measured", icon=":material/target:"),
        st.Page("app/pages/inside_attention.py", title="Inside the attention", icon=":material/neurology:"),
    ],
})

from app.guard import one_sentence_errors  # noqa: E402

if "app.sidebar" not in sys.modules:
    # A server's first run imports torch and detectron2 (seconds): say so at once, under the menu
    # that navigation has drawn already.
    notice = st.empty()
    notice.info("Loading PyTorch and detectron2…", icon=":material/hourglass_top:")
    import app.sidebar  # noqa: E402, F401
    notice.empty()
from app.sidebar import sidebar_ui  # noqa: E402

with one_sentence_errors():
    sidebar_ui()
    page.run()
