"""Evaluate: both models over a labelled dataset, the crack / no-crack table side by side, and the
images on which they disagree."""

from dataclasses import replace

import pandas as pd
import streamlit as st

import models
from app import assets, cache, context, dataset_choice, evaluation, heavy_ui, widgets
from app.report_block import report_block
from app.shared_work import SHARED, images_done, run_shared, shared_bar
from app.text import literal
from evaluation.formatting import rule_text
from evaluation.significance import COUNT_KEYS, counts_summary, paired_summary, pairing_from_counts
from training.data import DataProblemsError
from viz.views.detections import at_threshold


def counts_ui(results, labels: tuple[str, str]) -> tuple[str, str]:
    """Buttons that fill the two tables in (from this page's evaluation, or the BAM crack experiment);
    returns the rows' names: the models' only where the counts are theirs."""
    def fill(tables, origin: str) -> None:
        for row, table in zip("ab", tables):
            for k in COUNT_KEYS:
                st.session_state[f"counts_{row}_{k}"] = table[k]
        st.session_state["counts_origin"] = origin

    cols = st.columns(2)
    if results is not None and len(results.models) == 2:
        tables = [{k: getattr(m.image_level, k) for k in COUNT_KEYS} for m in results.models.values()]
        cols[0].button("Fill in this evaluation's tables", on_click=fill, args=(tables, "evaluation"),
                       key="counts_fill_evaluation")
    cols[1].button("Fill in the BAM crack experiment (91.54 % → 93.85 % of 130 images)", key="counts_fill_experiment",
                   on_click=fill, args=(evaluation.EXPERIMENT_COUNTS, "experiment"))
    return {"experiment": evaluation.EXPERIMENT_LABELS, "evaluation": labels}.get(
        st.session_state.get("counts_origin"), ("Before", "After"))


sel, pair, _ = context.page("Evaluate", image=False)
st.markdown("Runs both models over every image of a labelled COCO set. **Image level**: an image counts as "
            f"*crack* when any detection scores ≥ **{sel.threshold:.2f}** (the sidebar's threshold), and is one "
            "when it has an annotation: TP, TN, FP, FN, accuracy, precision, recall. **Instance level**: "
            "COCO box and mask AP.")

choice = dataset_choice.dataset_ui()  # the same choice on "Attention, measured"
json_path, image_dir, missing = choice.json_path, choice.image_dir, choice.missing
note = st.empty()  # emptied when the run starts: the run generates the split
if choice.demo and not assets.demo_split_ready():
    note.info(f"The demo test split ({assets.TEST_SPLIT_SIZE} synthetic crack images, held out from the demo "
              "models' training) is not on this server yet: the first run generates it, in a few seconds, "
              f"into `{json_path.parent.relative_to(assets.ROOT)}`.", icon=":material/info:")

size = evaluation.dataset_size(json_path) if not missing else None
run_key = evaluation.run_key(pair, json_path, image_dir, sel.threshold, choice.label)
start = st.button("Run evaluation", type="primary", disabled=bool(missing), key="eval_run",
                  help=f"{size} images × 2 models" if size else None)
if start:
    note.empty()
    bar = st.progress(0.0, text="Starting…")
    if choice.demo:
        widgets.make_demo_split_ui()
        size = evaluation.dataset_size(json_path)
    work = ("evaluation", str(evaluation.cache_folder(pair, json_path, image_dir, sel.threshold, label=choice.label)))

    shared, joined = shared_bar(work, bar, "Another visitor is running this same evaluation; its result will be "
                                           "shown here too:")
    report = images_done(shared)

    def evaluate() -> evaluation.EvaluationRun:
        with (heavy_ui.job("The evaluation", "eval"),
              st.spinner(f"Evaluating {size or 'the'} images with both models…", show_time=True)):
            return evaluation.evaluate_pair(pair, json_path, image_dir, threshold=sel.threshold, on_progress=report,
                                            label=choice.label)

    try:
        st.session_state["evaluation"] = run_shared(SHARED, work, evaluate, on_join=joined)
    except DataProblemsError as e:
        widgets.dataset_problems_ui(e.problems, "evaluated")
    except (models.ModelLoadError, ValueError) as e:
        st.error(f"Evaluation failed: {literal(e)}", icon=":material/error:")
    bar.empty()
else:
    heavy_ui.stopped_note("eval")

done = st.session_state.get("evaluation")
if (done is None or done.key != run_key) and not missing:
    saved = evaluation.saved_run(pair, json_path, image_dir, sel.threshold, label=choice.label)  # kept on disk
    if saved is not None:
        done = st.session_state["evaluation"] = saved
        st.caption(f"Kept from an earlier run of these models on {literal(choice.label)} at {sel.threshold:.2f}: "
                   "shown without recomputing (**Run evaluation** runs it again).")
current = done is not None and done.key == run_key  # results of this dataset, these models and threshold

before, after = pair[1].label, pair[0].label  # the reports' order: baseline first
with st.expander("Only the two tables? What counts alone can say"):
    st.markdown("The image-level tables of two models on the same images (the same images with and without "
                "cracks). Which images each model gets right is unknown, so every pairing the counts allow is "
                "possible: the best and the worst case for the difference.")
    names = counts_ui(done.results if current else None, (before, after))
    tables = []
    for label, row in zip(names, ("a", "b")):
        cols = st.columns([2, 1, 1, 1, 1], vertical_alignment="bottom")
        cols[0].markdown(f"**{literal(label)}**")
        tables.append({k: int(col.number_input(k.upper(), min_value=0, step=1, key=f"counts_{row}_{k}",
                                               on_change=lambda: st.session_state.pop("counts_origin", None)))
                       for col, k in zip(cols[1:], COUNT_KEYS)})  # typed in: no longer anyone's counts
    if not any(sum(t.values()) for t in tables):
        st.caption("Type in the two tables, or fill them in with a button above.")
    else:
        try:
            from_counts = pairing_from_counts(*tables)
        except ValueError as e:
            st.error(f"These counts cannot be compared: {literal(e)}", icon=":material/error:")
        else:
            st.table(pd.DataFrame(evaluation.counts_table(from_counts, names)).set_index("pairing"))
            st.markdown(counts_summary(from_counts, tuple(literal(n) for n in names)))

report_block(pair, choice, threshold=sel.threshold, evaluation=done if current else None)  # PDF / HTML handout

if done is None:
    st.stop()
if not current:
    st.warning(f"The results below are of an earlier run on **{literal(done.label)}** (other models, dataset or "
               f"threshold), not of {literal(choice.label) or 'the dataset chosen above'}: **Run evaluation** for "
               "these.", icon=":material/history:")
results = done.results
ds = results.dataset
st.subheader("Results")
st.caption(f"{ds.num_images} images: {ds.with_instances} with cracks, {ds.without_instances} without · "
           f"{literal(ds.label)}")
table = evaluation.evaluation_table(results)
st.dataframe(table, hide_index=True, width="stretch", height=(len(table) + 1) * 35 + 3)  # every row, no scrolling
for label, m in results.models.items():
    st.caption(f"**{literal(label)}**: {literal(m.model)}")
widgets.downloads_row([(f"{'Disagreements' if name.startswith('disagreements') else 'Table'} "
                        f"({name.split('.')[-1].upper()})", (lambda n=name: done.report(n)), name, mime)
                       for name, mime in evaluation.REPORTS.items()], key="eval")

paired = results.paired  # two models on the same images
if paired:
    st.subheader("Is the difference real?")
    cols = st.columns([2, 3])
    cols[0].dataframe(evaluation.paired_table(paired), hide_index=True, width="stretch")
    cols[1].dataframe(evaluation.difference_table(paired), hide_index=True, width="stretch")
    st.markdown(paired_summary(replace(paired, models=[literal(m) for m in paired.models])))  # labels escaped
    boot = paired.bootstrap
    st.caption(f"Differences: {literal(paired.models[1])} − {literal(paired.models[0])}, accuracy in "
               f"percentage points, AP in AP points. Intervals: {boot.resamples} bootstrap resamples of the "
               f"images (seed {boot.seed}), the same images for both models; AP re-counted from pycocotools' "
               f"per-image matches. {rule_text()}")

run_threshold = results.threshold
images = done.images
labels = results.labels
colours = evaluation.model_colours(labels)  # one clearly distinct colour per model, full names in the legend
if images:
    st.subheader("Precision and recall, image level")
    curves, ap = evaluation.image_pr_curves(images)
    if curves:
        points = [{"model": label, "recall": m.image_level.recall, "precision": m.image_level.precision}
                  for label, m in results.models.items() if m.image_level.precision is not None]
        st.vega_lite_chart({"layer": [
            {"data": {"values": curves}, "mark": {"type": "line", "interpolate": "step-before"},
             "encoding": {"x": {"field": "recall", "type": "quantitative", "scale": {"domain": [0, 1]}},
                          "y": {"field": "precision", "type": "quantitative", "scale": {"domain": [0, 1.02]}},
                          "color": colours,
                          "order": {"field": "step"},
                          "tooltip": [{"field": "model"}, {"field": "threshold", "format": ".3f"},
                                      {"field": "precision", "format": ".3f"}, {"field": "recall", "format": ".3f"}]}},
            {"data": {"values": points}, "mark": {"type": "point", "filled": True, "size": 90},
             "encoding": {"x": {"field": "recall", "type": "quantitative"},
                          "y": {"field": "precision", "type": "quantitative"},
                          "color": colours}}]}, height=320)
        st.caption("An image is *crack* when its highest detection score reaches the threshold; each line sweeps "
                   f"that threshold, the dots are the run's threshold {run_threshold:.2f}. Average precision: "
                   + " · ".join(f"{label} {v:.3f}" for label, v in ap.items() if v is not None) + ".")
    else:
        st.info("No curve: the set needs images with and without cracks.", icon=":material/info:")

instance_curves = evaluation.instance_pr_rows(results)
if instance_curves:
    st.subheader("Precision and recall, instance level")
    st.vega_lite_chart({"data": {"values": instance_curves}, "mark": {"type": "line"},
                        "encoding": {"x": {"field": "recall", "type": "quantitative", "scale": {"domain": [0, 1]}},
                                     "y": {"field": "precision", "type": "quantitative",
                                           "scale": {"domain": [0, 1.02]}},
                                     "color": colours,
                                     "strokeDash": {"field": "task", "type": "nominal",
                                                    "legend": {"orient": "bottom"}}}}, height=320)
    st.caption("COCO's interpolated precision at each recall, IoU 0.5, from pycocotools (`mask` and `box`); "
               "the mean of a curve is its AP50.")

count = results.disagreements
st.subheader("Browse the images")
if not images:
    st.info("This run kept no per-image scores: run the evaluation again to browse its images.",
            icon=":material/info:")
    st.stop()
row = st.columns([1.4, 1.8, 2, 1.4], vertical_alignment="bottom")
label = row[0].selectbox("Model", labels, index=len(labels) - 1, key="eval_model")
outcomes = row[1].pills("Its verdicts", evaluation.OUTCOMES, default=evaluation.OUTCOMES, selection_mode="multi",
                        key="eval_outcomes", help="TP: a crack found; FP: a crack said where there is none; "
                                                  "FN: a crack missed; TN: rightly none.")
low, high = row[2].slider("Its max score", 0.0, 1.0, (0.0, 1.0), 0.01, key="eval_scores")
only_disagree = row[3].toggle(f"Only where they disagree ({count})", value=False, key="eval_disagree")
shown = evaluation.filter_images(images, label, set(outcomes or ()), low, high, run_threshold)
if only_disagree:
    shown = [im for im in shown if len({s >= run_threshold for s in im["max_scores"].values()}) > 1]
tally = {o: sum(evaluation.outcome(im["crack"], im["max_scores"][label], run_threshold) == o for im in images)
         for o in evaluation.OUTCOMES}
st.caption(f"{len(shown)} of {len(images)} images · {literal(label)} at {run_threshold:.2f}: "
           + " · ".join(f"{o} {n}" for o, n in tally.items()))
if not shown:
    st.info("No image matches these filters.", icon=":material/info:")
    st.stop()
st.dataframe(evaluation.browse_rows(shown, run_threshold), hide_index=True, width="stretch", height=240,
             column_config={f"{m} score": st.column_config.NumberColumn(format="%.3f") for m in labels})
k = st.selectbox("Image", range(len(shown)), key="eval_browse", format_func=lambda k: shown[k]["file_name"])
entry = shown[min(k or 0, len(shown) - 1)]
truth = "crack" if entry["crack"] else "no crack"
st.markdown(f"**{literal(entry['file_name'])}** · truth: **{truth}** · "  # names from the dataset: escaped
            + " · ".join(f"{literal(m)}: {evaluation.outcome(entry['crack'], s, run_threshold)} (max score {s:.2f})"
                         for m, s in entry["max_scores"].items()))
try:
    path = done.image_path(entry)  # held to the image folder
    image_source, image = widgets.dataset_image(path)
except ValueError as e:
    st.error(literal(e))
    st.stop()
found = []
for loaded in pair:
    with st.spinner(f"Analysing {literal(path.name)} with {literal(loaded.label)}…"):
        found.append(at_threshold(cache.analysis(loaded.key, image_source.digest, loaded, image), run_threshold))
diff = cache.comparison(pair[0].key, pair[1].key, image_source.digest, run_threshold, *found).detections
pictures = cache.detection_panels(pair[0].key, pair[1].key, image_source.digest, run_threshold, *found, diff, image)
for col, panel in zip(st.columns(2), pictures):  # (without, with): one colour per instance, as on Detections
    col.image(panel.image, caption=f"{panel.title}: {panel.caption}", width="stretch")
