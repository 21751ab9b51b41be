"""Attention, measured: over a labelled dataset, how well each stage's attention and features line
up with the cracks, for both models, with intervals; and the images where they do best and worst."""

from pathlib import Path

import streamlit as st

import models
from app import assets, attention_measured, cache, context, dataset_choice, evaluation, heavy_ui, widgets
from app.shared_work import SHARED, images_done, run_shared, shared_bar
from app.text import literal
from evaluation.attention_report import image_maps
from training.data import DataProblemsError
from viz.render import normalize, overlay

MEASURES = ("auroc", "lift", "pointing", "mass_share")
SHOWN = 3  # best and worst images

sel, pair, _ = context.page("Attention, measured", image=False)
st.markdown("Does the network look at the cracks, and at which stage? For every image with a crack, each map is "
            "compared with the crack mask: the **spatial attention** of each attention stage, and the "
            "**feature energy** (mean absolute activation) of c2…c5 for both models. **Lift**: the share of the "
            "map's mass on crack pixels over their share of the image (1 = uniform). **AUROC**: the map as a "
            "crack-pixel detector (0.5 = chance). **Pointing game**: the map's maximum within 15 px of a crack. "
            "Means over images with 95% bootstrap intervals; differences paired per image.")

choice = dataset_choice.dataset_ui()  # the same choice as on Evaluate
json_path, image_dir, missing = choice.json_path, choice.image_dir, choice.missing
if choice.demo and not assets.demo_split_ready():
    st.info(f"The demo test split ({assets.TEST_SPLIT_SIZE} images) is generated on the first run, in a few "
            "seconds.", icon=":material/info:")

size = evaluation.dataset_size(json_path) if not missing else None
limit = st.number_input("Images to measure (the first N; 0: all)", min_value=0, value=0, step=10, key="am_limit")
limit = int(limit) or None
run_key = attention_measured.run_key(pair, json_path, image_dir, limit, choice.label)
if st.button("Measure", type="primary", disabled=bool(missing), key="am_run",
             help=f"{min(size, limit or size)} images × 2 models" if size else None):
    if choice.demo:
        widgets.make_demo_split_ui()
    bar = st.progress(0.0, text="Starting…")
    work = ("attention", str(attention_measured.result_folder(pair, json_path, image_dir, limit, choice.label)))

    shared, joined = shared_bar(work, bar, "Another visitor is measuring this same dataset; its result will be "
                                           "shown here too:")
    report = images_done(shared)

    def measure() -> attention_measured.AlignmentRun:
        with heavy_ui.job("Measuring", "am"):
            return attention_measured.measure_pair(pair, json_path, image_dir, limit=limit, on_progress=report,
                                                   label=choice.label)

    try:
        st.session_state["alignment"] = run_shared(SHARED, work, measure, on_join=joined)
    except DataProblemsError as e:
        widgets.dataset_problems_ui(e.problems, "measured")
    except (models.ModelLoadError, ValueError) as e:
        st.error(f"Measuring failed: {literal(e)}", icon=":material/error:")
    bar.empty()
else:
    heavy_ui.stopped_note("am")

done = st.session_state.get("alignment")
if done is None:
    st.stop()
if done.key != run_key:
    st.warning(f"The results below are from an earlier run on **{literal(done.label)}**, with other models, "
               f"dataset or number of images than chosen now: **Measure** for these.", icon=":material/history:")
results = done.results
ds = results.dataset
st.subheader("Per stage")
st.caption(f"{ds.measured} images with cracks measured, {ds.skipped_no_crack} without cracks skipped · "
           f"{literal(ds.label)}")
if not ds.measured:
    st.warning("No image of this set has a crack annotation: nothing to measure.", icon=":material/warning:")
    st.stop()
st.image(str(done.figure_png), width="stretch")
measure = st.segmented_control("Measure", MEASURES, default="auroc", key="am_measure", required=True,
                               format_func=attention_measured.measure_title) or "auroc"
table = attention_measured.summary_table(results, measure)
st.dataframe(table, hide_index=True, width="stretch")
widgets.downloads_row([(name.split(".")[-1].upper(), (lambda n=name: done.report(n)), name, mime)
                       for name, mime in attention_measured.REPORTS.items()], key="am")

st.subheader("Best and worst images")
labels = results.labels
cols = st.columns(2)
label = cols[0].selectbox("Model", labels, index=len(labels) - 1, key="am_drill_model")
names = [n for n in results.summary[label] if not n.startswith("gradcam")]  # maps the capture gives
name = cols[1].selectbox("Map", names, key="am_drill_map")
best, worst = results.ranked(label, name, measure, SHOWN)
loaded = next(m for m in pair if m.label == label)
masks = attention_measured.drill_masks(Path(ds.json), [e["image_id"] for e in best + worst])  # once per change
for title, entries in ((f"Best {attention_measured.measure_title(measure)}", best),
                       (f"Worst {attention_measured.measure_title(measure)}", worst)):
    st.markdown(f"**{title}** · {name} of {literal(label)}")
    for col, entry in zip(st.columns(SHOWN), entries):
        try:
            path = done.image_path(entry)  # held to the image folder
            image_source, image = widgets.dataset_image(path)
        except ValueError as e:
            col.error(literal(e))
            continue
        with st.spinner(f"Analysing {literal(path.name)}…"):
            analysis = cache.analysis(loaded.key, image_source.digest, loaded, image)
        values = image_maps(analysis.capture)[name]
        picture = attention_measured.drill_picture(overlay(image, normalize(values), alpha=0.55),
                                                   masks[entry["image_id"]])
        col.image(picture, caption=f"{entry['file_name']}: {entry['value']:.3f}", width="stretch")
st.caption("The map over the image (brighter: more), the crack's outline in green.")
