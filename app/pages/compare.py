"""With vs without BAM: the before/after view for a presentation. Detection changes, per-stage
feature differences, the Grad-CAM difference of a matched instance, and a one-click export."""

import json
from dataclasses import replace

import streamlit as st

from app import cache, context, widgets
from app.exports import pdf_pages, rows_csv, stem, zip_files
from viz.analysis import summary
from viz.compare import cam_difference
from viz.figures import comparison_figure, figure_bytes
from viz.views.compare import difference_limit, difference_picture, feature_difference_panels
from viz.views.detections import at_threshold, detection_rows, detection_summary, instance_box, instance_label
from viz.views.gradcam import cam_picture

sel, pair, found = context.page("With vs without BAM")
with_att, without_att = found
comparison = context.comparison(sel, pair, found)
diff = comparison.detections

counts = detection_summary(with_att, without_att, diff)
c = st.columns(5)
c[0].metric("Detections without", counts["without"], help=without_att.label)
c[1].metric("Detections with", counts["with"], delta=counts["with"] - counts["without"], delta_color="off",
            help=with_att.label)
c[2].metric("Kept", counts["kept"], help="Found by both (same class, mask IoU ≥ 0.5).")
c[3].metric("Gained / lost", f"{counts['gained']} / {counts['lost']}",
            help="Found only with attention / only without.")
c[4].metric("Mean score change (kept)",
            "–" if counts["mean score change"] is None else f"{counts['mean score change']:+.3f}")

cols = st.columns(2)
for col, loaded, analysis in ((cols[0], pair[1], without_att), (cols[1], pair[0], with_att)):
    col.image(cache.detections_picture(loaded.key, sel.image_key, sel.threshold, analysis, sel.image),
              caption=f"{analysis.label}: {len(analysis.detections)} detections", width="stretch")

st.subheader("Feature difference per stage")
st.caption("Mean |activation| of each stage, each model normalised to [0, 1], with − without: "
           "red where the model with attention responds more, blue where less. "
           "(The two models are trained apart, so their channels do not correspond; this compares where they respond.)")
row = st.columns([1, 2, 3], vertical_alignment="bottom")
on_image = row[0].toggle("On the image", value=False, key="cmp_on_image")
contrast = row[1].radio("Colour scale", ("per stage", "fixed"), key="cmp_contrast", horizontal=True,
                        help="per stage: each map scaled to its own largest difference; fixed: ±1 for all.")
panels = feature_difference_panels(with_att, comparison.feature_diffs, sel.image, on_image=on_image,
                                         contrast=contrast)
for col, panel in zip(st.columns(max(4, len(panels))), panels):
    col.markdown(f"**{panel.title}**")
    col.image(panel.image, caption=panel.caption, width="stretch")

st.subheader("Grad-CAM difference")
cam_diffs = {}
if not diff.kept:
    st.info("No instance is found by both models at this threshold, so there is no CAM to compare. "
            "Lower the score threshold in the sidebar.", icon=":material/info:")
else:
    matches = sorted(diff.kept, key=lambda m: -m.score_with)
    row = st.columns([2, 1, 1], vertical_alignment="bottom")
    k = row[0].selectbox("Matched instance", range(len(matches)), key="cmp_match",
                         format_func=lambda k: f"{instance_label(with_att, matches[k].index_with)} ↔ "
                                               f"{instance_label(without_att, matches[k].index_without)}")
    layer = row[1].selectbox("Layer", ("c4", "c5", "c3", "c2"), key="cmp_layer")
    show_cam = row[2].toggle("Compute", value=True, key="cmp_cam", help="Two Grad-CAMs: a few seconds, once.")
    if show_cam:
        match = matches[k]
        heat = []
        for loaded, analysis, i in ((pair[1], without_att, match.index_without), (pair[0], with_att, match.index_with)):
            box, class_id = instance_box(analysis, i)
            heat.append(context.cam(loaded, sel, analysis, box, class_id, "GradCAM", "score", layer))
        cam_diffs[(k, layer)] = cam_difference(heat[1], heat[0])
        cols = st.columns(3)
        cols[0].image(cam_picture(sel.image, heat[0]), caption=f"{without_att.label}: GradCAM at {layer}",
                      width="stretch")
        cols[1].image(cam_picture(sel.image, heat[1]), caption=f"{with_att.label}: GradCAM at {layer}",
                      width="stretch")
        limit = difference_limit(cam_diffs[(k, layer)])
        cols[2].image(difference_picture(sel.image, cam_diffs[(k, layer)], on_image=False, alpha=0.6,
                                               limit=limit),
                      caption=f"with − without, scale ±{limit:.2f} (red: more weight with attention)", width="stretch")
full = replace(comparison, cam_diffs=cam_diffs)

name = stem(sel.image_name)
widgets.downloads_row(
    widgets.figure_items(lambda: comparison_figure(with_att, without_att, full, sel.image), f"{name}_comparison",
                         what="Comparison figure")
    + [("Changes (CSV)", lambda: rows_csv(detection_rows(with_att, without_att, diff)),
        f"{name}_detection_changes.csv", "text/csv"),
       ("Analysis (JSON)", lambda: json.dumps(summary([with_att, without_att], full), indent=2),
        f"{name}_analysis.json", "application/json")], key="cmp")

# ------------------------------------------------------------------------------------------------
st.divider()
st.subheader("Presentation export")
st.caption("The before/after figure for each chosen image: one multi-page PDF, or a zip of PNGs.")
names = [i.name for i in sel.images]
row = st.columns([3, 1.6, 1], vertical_alignment="bottom")
chosen = row[0].multiselect("Images", names, default=[sel.image_name], key="deck_images")
with_cams = row[1].toggle("With Grad-CAM difference", value=False, key="deck_cams",
                          help="The CAM difference of each image's best matched instance at c4 (slower).")
if row[2].button("Build presentation", type="primary", disabled=not chosen, key="deck_build"):
    pages, pngs = [], {}
    progress = st.progress(0.0, text="Starting…")
    for n, image_name in enumerate(chosen):
        progress.progress(n / len(chosen), text=f"{image_name} ({n + 1} of {len(chosen)})")
        source = next(i for i in sel.images if i.name == image_name)
        image, _ = cache.decoded_image(source.digest, source.data, source.name)
        a, b = (at_threshold(cache.analysis(m.key, source.digest, m, image), sel.threshold) for m in pair)
        result = cache.comparison(pair[0].key, pair[1].key, source.digest, sel.threshold, a, b)
        if with_cams and result.detections.kept:
            best = max(result.detections.kept, key=lambda m: m.score_with)
            heat = [cache.cam(m.key, source.digest, *instance_box(x, i), "GradCAM", "score", "c4", m, x)
                    for m, x, i in ((pair[0], a, best.index_with), (pair[1], b, best.index_without))]
            result = replace(result, cam_diffs={(0, "c4"): cam_difference(heat[0], heat[1])})
        fig = comparison_figure(a, b, result, image)
        pages.append(fig)
        pngs[f"{stem(image_name)}_comparison.png"] = figure_bytes(fig, "png")
    progress.progress(1.0, text=f"{len(chosen)} images done")
    st.session_state["deck"] = (pdf_pages(pages), zip_files(pngs), len(pages))
if "deck" in st.session_state:
    pdf, archive, count = st.session_state["deck"]
    row = st.columns(4)
    row[0].download_button(f"Presentation, {count} pages (PDF)", pdf, "bam_comparison.pdf", "application/pdf",
                           icon=":material/download:", on_click="ignore", key="deck_pdf")
    row[1].download_button(f"Presentation, {count} figures (ZIP of PNG)", archive, "bam_comparison_png.zip",
                           "application/zip", icon=":material/download:", on_click="ignore", key="deck_zip")
