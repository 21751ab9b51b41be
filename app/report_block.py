"""The "Report to hand out" block: evaluation.handout.build_report behind one button, with a
progress bar, and the PDF and HTML as downloads. Placed on the Evaluate page.

The panel is an expander with a key: it keeps its place and state when the page above it changes,
opens when the report is asked for, and stays open while the report is written and once it is, so
its progress and then its downloads are in sight."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import models
from app import assets, attention_measured, heavy_ui, inside_attention, widgets
from app.dataset_choice import DatasetChoice
from app.evaluation import EvaluationRun, result_folder
from app.shared_work import SHARED, run_shared, shared_bar
from app.text import literal
from models.loaded import LoadedModel
from training.data import DataProblemsError

STATE = "handout_report"
PANEL = "handout_panel"  # the expander's key: its open / closed state
REPORTS_ROOT = assets.ROOT / "output" / "reports"  # git-ignored; one folder per request, shared by sessions


def _open() -> None:
    st.session_state[PANEL] = True


def report_block(pair: tuple[LoadedModel, LoadedModel], choice: DatasetChoice, *, threshold: float,
                 evaluation: EvaluationRun | None) -> None:
    """An expander: how many images, how many examples, a button; then the progress and the two
    downloads.

    Args:
        pair: (with attention, without), as the pages hold it; the report puts the baseline first.
        choice: the dataset chosen on the page (its label names the report's dataset).
        threshold: the image-level threshold.
        evaluation: this page's finished evaluation of that dataset, models and threshold, or
            None; the report reuses it when it covers every image.
    """
    with st.expander("Report to hand out (PDF and HTML)", icon=":material/description:", key=PANEL,
                     on_change="rerun"):
        st.markdown("One file to hand out: both models described, the before / after table with its paired "
                    "statistics, the per-stage attention figure and a few example images with detections, "
                    "attention and Grad-CAM side by side, on the dataset chosen above.")
        cols = st.columns(2)
        limit = cols[0].number_input("Images (0: all; N: a sample of N, as many with cracks as without)",
                                     min_value=0, value=0, step=10, key="handout_limit")
        count = cols[1].number_input("Example images", min_value=1, max_value=6, value=3, key="handout_examples")
        limit = int(limit) or None
        if limit is None and evaluation is not None:
            st.caption(f"Reuses the evaluation below (all {evaluation.results.dataset.num_images} images of "
                       f"{literal(choice.label)}); the attention is measured on the same images.")
        if not choice.missing and inside_attention.latest_json(pair, choice.json_path, choice.image_dir, choice.label):
            st.caption("Adds the latest dissection of these models on this dataset (page \"Inside the attention\"): "
                       "crack units per layer, the attention's correlation and the knock-outs.")
        if st.button("Write the report", disabled=bool(choice.missing), key="handout_run", on_click=_open):
            _write(pair, choice, threshold=threshold, limit=limit, count=int(count),
                   evaluation=evaluation if limit is None else None)
        else:
            heavy_ui.stopped_note("handout")
        made = st.session_state.get(STATE)
        if made:
            st.caption(f"Report on {literal(made['label'])}: {made['pages']} pages, written in "
                       f"{made['seconds']:.0f} s.")
            cols = st.columns(2)
            cols[0].download_button("Report (PDF)", made["pdf"], "report.pdf", "application/pdf",
                                    key="handout_pdf", icon=":material/download:")
            cols[1].download_button("Report (HTML)", made["html"], "report.html", "text/html",
                                    key="handout_html", icon=":material/download:")


def _write(pair, choice: DatasetChoice, *, threshold: float, limit: int | None, count: int,
           evaluation: EvaluationRun | None) -> None:
    from evaluation.handout import HandoutRequest, build_report

    json_path, image_dir = choice.json_path, choice.image_dir
    if choice.demo:
        widgets.make_demo_split_ui()
    measured = st.session_state.get("alignment")  # the "Attention, measured" page's run on every image, if any
    if limit is not None or measured is None or \
            measured.key != attention_measured.run_key(pair, json_path, image_dir, None, choice.label):
        measured = None
    dissection = inside_attention.latest_json(pair, json_path, image_dir, choice.label)  # its pages, if any
    folder = result_folder(REPORTS_ROOT, pair, json_path, image_dir, f"{threshold:.6f}", f"limit {limit}",
                           f"examples {count}", choice.label, f"dissection {dissection}")
    work = ("report", str(folder))
    bar = st.progress(0.0, text="Starting…")

    progress, joined = shared_bar(work, bar, "Another visitor is writing this same report.")

    def write() -> dict:
        with heavy_ui.job("The report", "handout"):  # kept below only once complete
            # workers=0: no processes forked from the multi-threaded server, as the Evaluate page runs
            request = HandoutRequest(
                Path(json_path), Path(image_dir), folder, limit=limit, example_count=count,
                examples_json=assets.SAMPLE_ANNOTATIONS if choice.demo else None, threshold=threshold, workers=0,
                evaluation_json=evaluation.out_dir / "evaluation.json" if evaluation else None,
                attention_json=measured.out_dir / "attention_report.json" if measured else None,
                dataset_name=choice.label, dissection_json=dissection)
            report = build_report([pair[1], pair[0]], request, progress)
            return {"pdf": report.pdf.read_bytes(), "html": report.html.read_bytes(), "pages": report.pages,
                    "seconds": sum(report.seconds.values()), "label": choice.label}

    try:
        st.session_state[STATE] = run_shared(SHARED, work, write, on_join=joined)  # two tabs, one report
    except DataProblemsError as e:
        st.error(f"The dataset has {len(e.problems)} problem(s); no report was written: {literal(e.problems[0])}",
                 icon=":material/error:")
    except (models.ModelLoadError, ValueError) as e:
        st.error(f"The report failed: {literal(e)}", icon=":material/error:")
    bar.empty()
