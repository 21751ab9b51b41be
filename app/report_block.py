"""The "Report to hand out" block: evaluation.handout.build_report behind one button, with a
progress bar, and the PDF and HTML as downloads. Placed on the Evaluate page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import models
from app import assets, cache, heavy_ui
from app.text import literal
from models.loaded import LoadedModel
from training.data import DataProblemsError

STATE = "handout_report"


def report_block(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, *, threshold: float,
                 disabled: bool) -> None:
    """An expander: how many images, how many examples, a button; then the two downloads.
    `pair`: (with attention, without), as the pages hold it; the report puts the baseline first."""
    with st.expander("Report to hand out (PDF and HTML)", icon=":material/description:"):
        st.markdown("One file to hand out: both models described, the before / after table with its paired "
                    "statistics, the per-stage attention figure and a few example images with detections, "
                    "attention and Grad-CAM side by side. The evaluation and the attention measures run on "
                    "the dataset chosen above.")
        cols = st.columns(2)
        limit = cols[0].number_input("Images (the first N; 0: all)", min_value=0, value=20, step=10,
                                     key="handout_limit")
        count = cols[1].number_input("Example images", min_value=1, max_value=6, value=3, key="handout_examples")
        if st.button("Write the report", disabled=disabled, key="handout_run"):
            _write(pair, json_path, image_dir, threshold=threshold, limit=int(limit) or None, count=int(count))
        else:
            heavy_ui.stopped_note("handout")
        made = st.session_state.get(STATE)
        if made:
            st.caption(f"{made['pages']} pages, written in {made['seconds']:.0f} s.")
            cols = st.columns(2)
            cols[0].download_button("Report (PDF)", made["pdf"], "report.pdf", "application/pdf",
                                    key="handout_pdf", icon=":material/download:")
            cols[1].download_button("Report (HTML)", made["html"], "report.html", "text/html",
                                    key="handout_html", icon=":material/download:")


def _write(pair, json_path: Path, image_dir: Path, *, threshold: float, limit: int | None, count: int) -> None:
    from evaluation.handout import HandoutRequest, build_report

    folder = cache.session_folder() / "report"
    demo = Path(json_path) == assets.TEST_SPLIT_JSON
    if demo and not assets.demo_split_ready():
        with st.spinner("Generating the demo test split…"):
            assets.make_demo_split()
    bar = st.progress(0.0, text="Starting…")
    try:
        with heavy_ui.job("The report", "handout"):  # kept below only once complete
            # workers=0: no processes forked from the multi-threaded server, as the Evaluate page runs
            request = HandoutRequest(Path(json_path), Path(image_dir), folder, limit=limit, example_count=count,
                                     examples_json=assets.SAMPLE_ANNOTATIONS if demo else None, threshold=threshold,
                                     workers=0)
            report = build_report([pair[1], pair[0]], request, lambda done, text: bar.progress(done, text=text))
    except DataProblemsError as e:
        st.error(f"The dataset has {len(e.problems)} problem(s); no report was written: {literal(e.problems[0])}",
                 icon=":material/error:")
    except (models.ModelLoadError, ValueError) as e:
        st.error(f"The report failed: {literal(e)}", icon=":material/error:")
    else:
        st.session_state[STATE] = {"pdf": report.pdf.read_bytes(), "html": report.html.read_bytes(),
                                   "pages": report.pages, "seconds": sum(report.seconds.values())}
    bar.empty()
