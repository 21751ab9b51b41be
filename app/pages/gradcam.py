"""Grad-CAM: which pixels drive one detection, for both models, with a sanity check (the same CAM
on a copy of the model with randomized heads should look different)."""

import json
from dataclasses import replace

import streamlit as st

from app import context, widgets
from app.exports import stem
from viz.analysis import summary
from viz.catalogue import layer_catalogue
from viz.figures import panels_figure
from viz.gradcam import (
    CAM_METHODS,
    EIGEN_SMOOTH_METHODS,
    PERTURBATION_BATCH,
    PERTURBATION_METHODS,
    TARGETS,
    CamRequest,
)
from viz.views import Panel
from viz.views.detections import instance_box, instance_label, match_for
from viz.views.gradcam import cam_picture, cam_scale

sel, pair, found = context.page("Grad-CAM")
with_att, without_att = found
diff = context.comparison(sel, pair, found).detections

if not with_att.detections:
    st.info(f"{with_att.label} detects nothing with score ≥ {sel.threshold:.2f}: there is no instance to explain. "
            "Lower the score threshold in the sidebar.", icon=":material/info:")
    st.stop()

row = st.columns([1.6, 1.2, 1, 1], vertical_alignment="bottom")
index = row[0].selectbox("Instance (model with attention)", with_att.detections, key="cam_instance",
                         format_func=lambda i: instance_label(with_att, i))
method = row[1].selectbox("Method", list(CAM_METHODS), key="cam_method")
target = row[2].radio("Target", TARGETS, key="cam_target", horizontal=True,
                      help="score: the class score of the box; mask: its mask logits.")
catalogues = [layer_catalogue(m.model) for m in pair]
# layers both models have (a model without attention has no c*_pre: nothing "before attention")
layers = [name for name, info in catalogues[0].items() if info.cam_ok and name in catalogues[1]
          and catalogues[1][name].cam_ok]
layer = row[3].selectbox("Layer", layers, index=layers.index("c4") if "c4" in layers else 0, key="cam_layer",
                         help="\n".join(f"- {n}: {catalogues[0][n].description}" for n in layers))
st.caption(f"{layer}: {catalogues[0][layer].description}, {catalogues[0][layer].channels} channels, "
           f"stride {catalogues[0][layer].stride}.")
if method in PERTURBATION_METHODS:  # the cost of the gradient-free perturbation methods, said before it is paid
    st.info(f"{method} runs the network once per channel of {layer} ({catalogues[0][layer].channels} passes, "
            f"{PERTURBATION_BATCH} at a time) for each model, and again for the sanity check: seconds on a GPU, "
            "minutes on a CPU.", icon=":material/hourglass:")

match = match_for(diff, index)
choices = (["match"] if match else []) + ["box"] + list(without_att.detections)
labels = {"match": f"its match {instance_label(without_att, match.index_without)}, mask IoU {match.iou:.2f}"
          if match else "", "box": "the same box, scored by this model"}
row2 = st.columns([1.6, 1.2, 1, 1], vertical_alignment="bottom")
# keyed per instance, so each instance opens on its match
other = row2[0].selectbox("Instance (model without attention)", choices, key=f"cam_other_{index}",
                          format_func=lambda c: labels.get(c) or instance_label(without_att, c),
                          help="By default the instance matched to the chosen one (same class, mask IoU ≥ 0.5); "
                               "where there is none, the same box scored by the other model.")
alpha = row2[1].slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="cam_alpha")
cmap = row2[2].selectbox("Colormap", ("jet", "inferno", "viridis", "magma", "plasma", "gray"), key="cam_cmap")
check = row2[3].toggle("Sanity check", value=True, key="cam_sanity",
                       help="Recompute the CAM with the box and mask heads randomized (Adebayo et al., 2018). "
                            "A faithful explanation changes.")

smoothing = st.columns([1.6, 1.2, 2], vertical_alignment="bottom")
aug_smooth = smoothing[0].toggle("Smooth: brightness augmentation", value=False, key="cam_aug_smooth",
                                 help="aug_smooth: the mean CAM over the image at 0.9, 1 and 1.1 brightness "
                                      "(no flips: they would move the box). Three times the work.")
eigen_ok = method in EIGEN_SMOOTH_METHODS
eigen_smooth = smoothing[1].toggle("Smooth: eigen", value=False, key="cam_eigen_smooth", disabled=not eigen_ok,
                                   help="eigen_smooth: the first principal component of the weighted activations "
                                        "(less noise)." if eigen_ok else f"{method} is already an eigen projection.")
box_with, class_with = instance_box(with_att, index)
if other == "match":
    box_without, class_without = instance_box(without_att, match.index_without)
elif other == "box":
    box_without, class_without = box_with, class_with
else:
    box_without, class_without = instance_box(without_att, other)

options = dict(method=method, layer=layer, target=target, aug_smooth=aug_smooth, eigen_smooth=eigen_smooth)
targets = [(pair[1], without_att, CamRequest(box_without, class_without, **options), catalogues[1]),
           (pair[0], with_att, CamRequest(box_with, class_with, **options), catalogues[0])]
cols = st.columns(2)
figure_panels, cams = [], {}
for col, (loaded, analysis, request, catalogue) in zip(cols, targets):
    with col:
        st.subheader(loaded.label)
        if layer not in catalogue or not catalogue[layer].cam_ok:
            st.info(f"{loaded.label} has no layer {layer} (it has {', '.join(n for n in catalogue if n[0] == 'c')}).",
                    icon=":material/info:")
            continue
        heat = context.cam(loaded, sel.image_key, analysis, request)
        picture = cam_picture(sel.image, heat, alpha=alpha, cmap=cmap, box=request.box)
        smoothed = " + ".join(request.smoothing)
        caption = f"{method} ({target}) at {layer}" + (f", {smoothed}" if smoothed else "")
        st.image(picture, caption=caption, width="stretch")
        widgets.colorbar_ui(cam_scale(cmap))
        if float(heat.max()) == 0.0:
            st.caption(f"The CAM is zero everywhere: at {layer}, nothing raises this {target} "
                       "(no positive gradient-weighted activation).")
        figure_panels.append(Panel(f"{loaded.label}\n{caption}", picture, values=heat, scale=cam_scale(cmap)))
        cams[loaded.key] = (request.box, heat)
        if check:
            result = context.sanity(loaded, sel.image_key, analysis, request, heat)
            (st.success if result.passed else st.warning)(str(result),
                                                         icon=":material/check_circle:" if result.passed
                                                         else ":material/warning:")
            with st.expander("Randomized-heads CAM"):
                st.image(cam_picture(sel.image, result.randomized, alpha=alpha, cmap=cmap, box=request.box),
                         width="stretch")


def _summary_json() -> str:
    """The analysis summary with the CAMs of this view listed."""
    views_with_cams = []
    for loaded, analysis, request, _ in targets:
        if loaded.key not in cams:
            views_with_cams.append(analysis)
            continue
        same = [i for i in range(len(analysis.capture.instances))
                if instance_box(analysis, i)[0] == request.box]
        key = (same[0] if same else -1, layer)
        views_with_cams.append(replace(analysis, cams={key: cams[loaded.key][1]}, cam_method=method, cam_target=target))
    return json.dumps(summary(views_with_cams[::-1]), indent=2)


if figure_panels:
    name = f"{stem(sel.image_name)}_{method}_{target}_{layer}"
    widgets.downloads_row(
        widgets.figure_items(lambda: panels_figure(figure_panels,
                                                   title=f"{sel.image_name} · {method} ({target}) at {layer} · "
                                                         f"score ≥ {sel.threshold:.2f}"), name,
                             what="CAM figure")
        + [("Analysis (JSON)", _summary_json, f"{name}_analysis.json", "application/json")], key="cam")
