"""Inside the attention: over a labelled dataset, which channels see cracks (Network Dissection),
does the channel attention favour them, and (optionally) what the knock-outs do to the result;
for a chosen channel, the dataset's images where it peaks highest."""

from pathlib import Path

import streamlit as st

import models
from app import assets, context, dataset_choice, evaluation, heavy_ui, inside_attention, widgets
from app.attention_measured import drill_masks
from app.shared_work import SHARED, run_shared, shared_bar
from app.text import literal
from evaluation.dissection import LAYERS
from training.data import DataProblemsError, dataset_image_path

SHOWN = 4  # crops per row

sel, pair, _ = context.page("Inside the attention", image=False)
st.markdown("Which channels see cracks, and does BAM's channel attention favour them? **Network Dissection** "
            "(Bau et al., 2017): each channel of c2…c5 is thresholded at its own top quantile over the dataset, "
            "upsampled to the image and compared with the crack masks (dilated by a few pixels: cracks are thin) "
            "by IoU summed over the images; above the IoU threshold it is a **crack unit**. Per attention stage, "
            "Spearman's ρ between a channel's mean attention weight and its IoU, with a bootstrap interval. "
            "**Knock-outs** (optional, several evaluation passes): the attention maps replaced by their dataset "
            "mean, and the best crack units zeroed against random ones, each evaluated with paired statistics.")

choice = dataset_choice.dataset_ui()  # the same choice as on Evaluate and "Attention, measured"
json_path, image_dir, missing = choice.json_path, choice.image_dir, choice.missing
if choice.demo and not assets.demo_split_ready():
    st.info(f"The demo test split ({assets.TEST_SPLIT_SIZE} images) is generated on the first run, in a few "
            "seconds.", icon=":material/info:")

cols = st.columns(4)
limit = int(cols[0].number_input("Images (the first N; 0: all)", min_value=0, value=0, step=10, key="ia_limit"))
quantile = cols[1].number_input("Top quantile (%)", min_value=0.05, max_value=50.0, value=0.5, step=0.1,
                                key="ia_quantile", help="A channel is active on its top share of cells over the "
                                                        "dataset (the paper's 0.5%).")
iou = cols[2].number_input("Crack unit: IoU above", min_value=0.0, max_value=1.0, value=0.04, step=0.01,
                           key="ia_iou", help="The paper's 0.04.")
dilation = cols[3].number_input("Masks dilated by (px)", min_value=0.0, max_value=50.0, value=2.0, step=1.0,
                                key="ia_dilation", help="Thin cracks: a channel one pixel beside one still counts.")
knockouts = st.toggle("Knock-outs", value=False, key="ia_knockouts",
                      help="Each knock-out is an evaluation of the model and its knocked-out copy over every image: "
                           "several evaluation passes per model.")
k, draws, layers = 8, 3, ("c2", "c3", "c4")
if knockouts:
    cols = st.columns(3)
    layers = tuple(cols[0].multiselect("Units zeroed at", LAYERS, default=list(layers), key="ia_ko_layers"))
    k = int(cols[1].number_input("Units zeroed (k)", min_value=1, max_value=32, value=8, key="ia_k"))
    draws = int(cols[2].number_input("Random draws", min_value=1, max_value=10, value=3, key="ia_draws"))
request = inside_attention.Request(limit=limit or None, quantile=quantile / 100, iou_threshold=iou,
                                   dilation_px=dilation, knockouts=knockouts, knockout_layers=layers, k=k, draws=draws,
                                   threshold=sel.threshold)
size = evaluation.dataset_size(json_path) if not missing else None
run_key = inside_attention.run_key(pair, json_path, image_dir, request, choice.label)
evaluations = 4 + 2 * len(layers) * (1 + draws)  # BAM's mean ablations, both models' zeroed units
if st.button("Dissect", type="primary", disabled=bool(missing) or (knockouts and not layers), key="ia_run",
             help=f"{min(size, limit or size)} images × 2 models" + (f", then {evaluations} evaluations of a model "
                                                                      "and its knock-out" if knockouts else "")
             if size else None):
    if choice.demo:
        widgets.make_demo_split_ui()
    bar = st.progress(0.0, text="Starting…")
    work = ("dissection", str(inside_attention.result_folder(pair, json_path, image_dir, request, choice.label)))

    report, joined = shared_bar(work, bar, "Another visitor is dissecting this same dataset:")

    def dissect() -> inside_attention.DissectionRun:
        with heavy_ui.job("The dissection", "ia"):
            return inside_attention.dissect_pair(pair, json_path, image_dir, request, on_progress=report,
                                                 label=choice.label)

    try:
        st.session_state["dissection"] = run_shared(SHARED, work, dissect, on_join=joined)
    except DataProblemsError as e:
        widgets.dataset_problems_ui(e.problems, "dissected")
    except (models.ModelLoadError, ValueError) as e:
        st.error(f"The dissection failed: {literal(e)}", icon=":material/error:")
    bar.empty()
else:
    heavy_ui.stopped_note("ia")

done = st.session_state.get("dissection")
if (done is None or done.key != run_key) and not missing:
    saved = inside_attention.saved_run(pair, json_path, image_dir, request, label=choice.label)  # kept on disk
    if saved is not None:
        done = st.session_state["dissection"] = saved
        st.caption(f"Kept from an earlier run of these models and settings on {literal(choice.label)}: shown "
                   "without recomputing (**Dissect** runs it again).")
if done is None:
    st.stop()
if done.key != run_key:
    st.warning("The results below are from an earlier run with other models, dataset or settings than chosen now: "
               "**Dissect** for these.", icon=":material/history:")
report = done.report
ds = report.dataset

st.subheader("Crack units per layer")
st.caption(f"{ds.num_images} images ({ds.with_crack} with cracks) · {literal(Path(ds.json).name)}")
st.image(str(done.figure("units")), width="stretch")
st.dataframe(inside_attention.stage_rows(report), hide_index=True, width="stretch")
widgets.downloads_row([(name.split(".")[-1].upper(), (lambda n=name: done.file(n)), name, mime)
                       for name, _, mime in done.downloads()], key="ia")

st.subheader("One layer")
labels = report.labels
cols = st.columns(2)
label = cols[0].selectbox("Model", labels, index=len(labels) - 1, key="ia_model")
result = report.models[label].result
layer = cols[1].selectbox("Layer", list(result.layers), key="ia_layer")
st.image(str(done.figure(f"{label} {layer}")), width="stretch")

dissection = result.layers[layer]
channel_names = inside_attention.channel_labels(report, label, layer)  # in crack-IoU order
channel = st.selectbox("Channel (by crack IoU)", list(channel_names), key="ia_channel", format_func=channel_names.get)
top = dissection.top_images
if top is not None:
    ids = [int(i) for i in top.image_ids[channel]]
    index = evaluation.dataset_index(done.json_path)
    names = index.file_names if index else {}
    masks = drill_masks(done.json_path, ids)  # once per change of the file and choice
    st.markdown(f"**Where #{channel} of {layer} peaks highest** · {literal(label)}")
    for start in range(0, len(ids), SHOWN):
        for col, n in zip(st.columns(SHOWN), range(start, min(start + SHOWN, len(ids)))):
            image_id = ids[n]
            try:
                _, image = widgets.dataset_image(dataset_image_path(done.image_dir, names[image_id]))
            except (KeyError, ValueError) as e:
                col.error(literal(e))
                continue
            mask = masks.get(image_id)
            crop = inside_attention.channel_crop(image, mask, tuple(top.centres[channel, n]), dissection.stride,
                                                 mask.shape if mask is not None else image.shape[:2])
            col.image(crop, caption=f"{names[image_id]}: peak {top.peaks[channel, n]:.3g}", width="stretch")
    st.caption("Around the channel's highest cell on each image (white square), the crack's outline in green.")

if report.knockout_settings is not None:
    st.subheader("Knock-outs")
    st.caption(report.knockout_settings.describe())
    st.dataframe(inside_attention.knockout_rows(report), hide_index=True, width="stretch")
    for label in labels:
        if report.models[label].knockouts:
            st.image(str(done.figure(f"{label} knock-outs")), width="stretch")
