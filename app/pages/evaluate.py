"""Evaluate: both models over a labelled dataset, the crack / no-crack table side by side, and the
images on which they disagree."""

from pathlib import Path

import pandas as pd
import streamlit as st

import models
from app import assets, cache, context, evaluation, widgets
from app.assets import ImageSource
from training.data import DataProblemsError
from training.significance import COUNT_KEYS, counts_summary, pairing_from_counts
from viz.views.detections import at_threshold

SOURCES = ("Demo test split", "A COCO dataset on the server")

sel, pair, _ = context.page("Evaluate", image=False)
st.markdown("Runs both models over every image of a labelled COCO set. **Image level**: an image counts as "
            f"*crack* when any detection scores ≥ **{sel.threshold:.2f}** (the sidebar's threshold), and is one "
            "when it has an annotation: TP, TN, FP, FN, accuracy, precision, recall. **Instance level**: "
            "COCO box and mask AP.")

source = st.radio("Dataset", widgets.dataset_sources(SOURCES), key="eval_source", horizontal=True)
if source == SOURCES[0]:
    json_path, image_dir = assets.TEST_SPLIT_JSON, assets.TEST_SPLIT_IMAGES
    missing = None
    if not assets.demo_split_ready():
        st.info(f"The demo test split ({assets.TEST_SPLIT_SIZE} synthetic crack images, held out from the demo "
                "models' training) is not on this server yet: the first run generates it, in a few seconds, "
                f"into `{json_path.parent.relative_to(assets.ROOT)}`.", icon=":material/info:")
else:
    json_path, image_dir, missing = widgets.server_dataset_ui("eval")

size = evaluation.dataset_size(json_path) if not missing else None
run_key = evaluation.run_key(pair, json_path, image_dir, sel.threshold)
start = st.button("Run evaluation", type="primary", disabled=bool(missing), key="eval_run",
                  help=f"{size} images × 2 models" if size else None)
if start:
    bar = st.progress(0.0, text="Starting…")

    def report(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"{done} of {total} images")

    out_dir = cache.session_folder() / "evaluation"
    if source == SOURCES[0] and not assets.demo_split_ready():
        making = st.progress(0.0, text="Generating the demo test split…")
        assets.make_demo_split(progress=lambda done, total: making.progress(
            done / max(total, 1), text=f"Generating the demo test split: {done} of {total} images"))
        making.empty()
        size = evaluation.dataset_size(json_path)
    try:
        with st.spinner(f"Evaluating {size or 'the'} images with both models…", show_time=True):
            st.session_state["evaluation"] = evaluation.evaluate_pair(
                pair, json_path, image_dir, out_dir, threshold=sel.threshold, on_progress=report)
    except DataProblemsError as e:
        shown = e.problems[:20]
        more = f"\n- … and {len(e.problems) - 20} more" if len(e.problems) > 20 else ""
        st.error(f"The dataset has {len(e.problems)} problem(s); nothing was evaluated:\n"
                 + "\n".join(f"- {p}" for p in shown) + more, icon=":material/error:")
    except (models.ModelLoadError, ValueError) as e:
        st.error(f"Evaluation failed: {e}", icon=":material/error:")

before, after = pair[1].label, pair[0].label  # the reports' order: baseline first
with st.expander("Only the two tables? What counts alone can say"):
    st.markdown("The image-level tables of two models on the same images (the same images with and without "
                "cracks). Which images each model gets right is unknown, so every pairing the counts allow is "
                "possible: the best and the worst case for the difference. Filled in: the BAM crack experiment "
                "(91.54 % → 93.85 % of 130 images).")
    tables = []
    for label, defaults, row in zip((before, after), evaluation.EXPERIMENT_COUNTS, ("a", "b")):
        cols = st.columns([2, 1, 1, 1, 1], vertical_alignment="bottom")
        cols[0].markdown(f"**{label}**")
        tables.append({k: int(col.number_input(k.upper(), min_value=0, step=1, value=defaults[k],
                                               key=f"counts_{row}_{k}"))
                       for col, k in zip(cols[1:], COUNT_KEYS)})
    try:
        from_counts = pairing_from_counts(*tables)
    except ValueError as e:
        st.error(f"These counts cannot be compared: {e}", icon=":material/error:")
    else:
        st.table(pd.DataFrame(evaluation.counts_table(from_counts, (before, after))).set_index("pairing"))
        st.markdown(counts_summary(from_counts, (before, after)))

done = st.session_state.get("evaluation")
if done is None:
    st.stop()
if done.key != run_key:
    st.caption("These results are from an earlier run (other dataset, models or threshold).")
results = done.results
ds = results["dataset"]
st.subheader("Results")
st.caption(f"{ds['num_images']} images: {ds['with_instances']} with cracks, {ds['without_instances']} without · "
           f"{Path(ds['json']).name}")
table = evaluation.evaluation_table(results)
st.dataframe(table, hide_index=True, width="stretch", height=(len(table) + 1) * 35 + 3)  # every row, no scrolling
for label, m in results["models"].items():
    st.caption(f"**{label}**: {m['model']}")
widgets.downloads_row([(f"Table ({name.split('.')[-1].upper()})", (lambda n=name: done.report(n)), name, mime)
                       for name, mime in evaluation.REPORTS.items()], key="eval")

paired = results.get("paired")  # two models on the same images
if paired:
    st.subheader("Is the difference real?")
    cols = st.columns([2, 3])
    cols[0].dataframe(evaluation.paired_table(paired), hide_index=True, width="stretch")
    cols[1].dataframe(evaluation.difference_table(paired), hide_index=True, width="stretch")
    st.markdown(paired["summary"])
    boot = paired["bootstrap"]
    st.caption(f"Differences: {paired['models'][1]} − {paired['models'][0]}, accuracy in percentage points, AP in "
               f"AP points. Intervals: {boot['resamples']} bootstrap resamples of the images (seed {boot['seed']}), "
               "the same images for both models; AP re-counted from pycocotools' per-image matches.")

count = results["disagreements"]
st.subheader(f"Where they disagree: {count} image{'s' if count != 1 else ''}")
entries = done.disagreements
if not entries:
    st.info("The two models give the same verdict on every image.", icon=":material/info:")
    st.stop()
labels = list(results["models"])
k = st.select_slider("Image", range(len(entries)), key="eval_browse",
                     format_func=lambda k: entries[k]["file_name"]) if len(entries) > 1 else 0
entry = entries[k]
truth = "crack" if entry["crack"] else "no crack"
st.markdown(f"**{entry['file_name']}** · truth: **{truth}** · "
            + " · ".join(f"{label}: {evaluation.verdict(entry, label)}" for label in labels))
path = done.image_path(entry)
try:
    data = path.read_bytes()
    image_source = ImageSource(path.name, data, "dataset")
    image, _ = cache.decoded_image(image_source.digest, data, path.name)
except (OSError, ValueError) as e:
    st.error(f"{path.name}: cannot be shown ({e}).")
    st.stop()
cols = st.columns(2)
for col, loaded in zip(cols, (pair[1], pair[0])):
    with st.spinner(f"Analysing {path.name}…"):
        found = at_threshold(cache.analysis(loaded.key, image_source.digest, loaded, image), sel.threshold)
    col.image(cache.detections_picture(loaded.key, image_source.digest, sel.threshold, found, image),
              caption=f"{loaded.label}: {len(found.detections)} detections ≥ {sel.threshold:.2f}", width="stretch")
