"""The first page's introduction: what BAM is, what each page shows, where to load one's own model,
and what the demo models are (demo.statement, which also heads the handout report)."""

from __future__ import annotations

import streamlit as st

from demo.statement import DEMO_STATEMENT

WHAT_BAM_IS = (
    "**BAM**, the Bottleneck Attention Module (Park et al., BMVC 2018), sits after ResNet stages c2, c3 "
    "and c4 and reweights their feature map: a *channel* attention says which channels matter, a "
    "*spatial* attention where in the image; the refined map goes on to the next stage and to the FPN. "
    "This app shows those maps inside a Mask R-CNN with BAM, beside the same model without it."
)
PAGES = (
    ("Detections", "both models' masks and scores, and what was kept, gained or lost with attention"),
    ("Hierarchical attention", "per stage: the feature entering BAM, its channel, spatial and combined "
                               "attention, and the refined feature"),
    ("Feature maps", "the strongest channels of each stage and the concepts they share"),
    ("Grad-CAM", "where each detection's score comes from (and ScoreCAM, AblationCAM, ...), with a sanity check"),
    ("With vs without BAM", "per-stage feature differences and CAM differences; a 16:9 presentation export"),
    ("Evaluate", "both models over a labelled dataset: the crack / no-crack table, COCO AP, paired statistics "
                 "and a report to hand out"),
    ("Attention, measured", "how well attention lines up with the cracks over a dataset"),
    ("Inside the attention", "which channels see cracks (Network Dissection), whether BAM's channel attention "
                             "favours them, and what knocking out the attention or those channels does"),
)
OWN_MODEL = (
    "Your own model: in the sidebar, choose **Upload** (or a server path, where the operator allows it) for "
    "either side and give its detectron2 config (YAML) and weights (.pth or .pkl); BAM added by editing "
    "detectron2's resnet.py is found in the weights. Your own images: upload them in the sidebar."
)


def intro_ui() -> None:
    """What BAM is and what the demo models are, always in view; the pages and how to load one's own
    model in an expander."""
    st.markdown(WHAT_BAM_IS)
    st.info(DEMO_STATEMENT, icon=":material/science:")
    with st.expander("What each page shows, and how to load your own model", icon=":material/info:"):
        st.markdown("\n".join(f"- **{name}**: {what}" for name, what in PAGES))
        st.markdown(OWN_MODEL)
