"""With vs without BAM: the before/after view for a presentation. Detection changes, per-stage
feature differences, the Grad-CAM difference of a matched instance, and a one-click export."""

import json

import streamlit as st

from app import cache, context, heavy_jobs, heavy_ui, widgets
from app.exports import pdf_pages, rows_csv, stem, zip_files
from viz.analysis import ranked_matches, summary, with_cam_differences
from viz.figures import comparison_figure, comparison_slides, figure_bytes
from viz.views.compare import CONTRASTS, cam_difference_panel, feature_difference_panels
from viz.views.detections import LEGEND, at_threshold, detection_rows, detection_summary, instance_box, instance_label
from viz.views.gradcam import cam_panel

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

pictures = cache.detection_panels(pair[0].key, pair[1].key, sel.image_key, sel.threshold, with_att, without_att,
                                  diff, sel.image)
for col, panel in zip(st.columns(2), pictures):
    with col:
        widgets.panel_ui(panel, title=True)
st.caption(LEGEND[0].upper() + LEGEND[1:] + ".")

st.subheader("Feature difference per stage")
st.caption("Mean |activation| of each stage, each model normalised to [0, 1], with − without: "
           "red where the model with attention responds more, blue where less. "
           "(The two models are trained apart, so their channels do not correspond; this compares where they respond.)")
row = st.columns([1, 2, 3], vertical_alignment="bottom")
on_image = row[0].toggle("On the image", value=False, key="cmp_on_image")
contrast = row[1].radio("Colour scale", CONTRASTS, key="cmp_contrast", horizontal=True,
                        help="One scale for every stage: shared, ± the largest difference of any stage; "
                             "or the full possible range ±1.")
panels = feature_difference_panels(with_att, comparison.feature_diffs, sel.image, on_image=on_image,
                                         contrast=contrast)
for col, panel in zip(st.columns(max(4, len(panels))), panels):
    with col:
        widgets.panel_ui(panel, title=True)

st.subheader("Grad-CAM difference")
full = comparison  # with the CAM difference of the chosen match once computed
if not diff.kept:
    st.info("No instance is found by both models at this threshold, so there is no CAM to compare. "
            "Lower the score threshold in the sidebar.", icon=":material/info:")
else:
    matches = ranked_matches(diff)  # rank k: "matched instance k" of the engine's CAM differences
    row = st.columns([2, 1, 1], vertical_alignment="bottom")
    k = row[0].selectbox("Matched instance", range(len(matches)), key="cmp_match",
                         format_func=lambda k: f"{instance_label(with_att, matches[k].index_with)} ↔ "
                                               f"{instance_label(without_att, matches[k].index_without)}")
    layer = row[1].selectbox("Layer", ("c4", "c5", "c3", "c2"), key="cmp_layer")
    show_cam = row[2].toggle("Compute", value=True, key="cmp_cam", help="Two Grad-CAMs: a few seconds, once.")
    if show_cam:
        full = with_cam_differences(comparison, (context.cam_source(pair[0], sel.image_key, with_att),
                                                 context.cam_source(pair[1], sel.image_key, without_att)),
                                    ranks=(k,), layers=(layer,))
        match = matches[k]
        cam_panels = [cam_panel(f"{a.label}: {a.cam_method} at {layer}", sel.image, cams[(i, layer)],
                                box=instance_box(a, i)[0])
                      for a, cams, i in ((without_att, full.cams[1], match.index_without),
                                         (with_att, full.cams[0], match.index_with))]
        cam_panels.append(cam_difference_panel(sel.image, full.cam_diffs[(k, layer)]))
        for col, panel in zip(st.columns(3), cam_panels):
            with col:
                widgets.panel_ui(panel, title=True)

name = stem(sel.image_name)
widgets.downloads_row(
    widgets.figure_items(lambda: comparison_figure(with_att, without_att, full, sel.image, image_name=sel.image_name),
                         f"{name}_comparison",
                         what="Comparison figure")
    + [("Changes (CSV)", lambda: rows_csv(detection_rows(with_att, without_att, diff)),
        f"{name}_detection_changes.csv", "text/csv"),
       ("Analysis (JSON)", lambda: json.dumps(summary([with_att, without_att], full), indent=2),
        f"{name}_analysis.json", "application/json")], key="cmp")

# ------------------------------------------------------------------------------------------------
st.divider()
st.subheader("Presentation export")
st.caption("The before/after of each chosen image as 16:9 slides (detections and stage differences; with "
           "Grad-CAM, a slide of its difference): one multi-page PDF, or a zip of PNGs.")
names = [i.name for i in sel.images]
cap = heavy_jobs.max_presentation_images()  # each image costs ~50 MB and seconds: the operator's cap
row = st.columns([3, 1.6, 1], vertical_alignment="bottom")
chosen = row[0].multiselect(f"Images (at most {cap})", names, default=[sel.image_name], key="deck_images",
                            help=f"A presentation holds at most {cap} images (the server's limit).")
with_cams = row[1].toggle("With Grad-CAM difference", value=False, key="deck_cams",
                          help="The CAM difference of each image's best matched instance at c4 (slower).")
too_many = len(chosen) > cap
if too_many:
    st.warning(f"{len(chosen)} images chosen: a presentation holds at most {cap}; remove "
               f"{len(chosen) - cap} to build it.", icon=":material/warning:")
build = row[2].button("Build presentation", type="primary", disabled=not chosen or too_many, key="deck_build")
if build and not too_many:
    with heavy_ui.job("The presentation", "deck"):
        pages, pngs = [], {}
        progress = st.progress(0.0, text="Starting…")
        for n, image_name in enumerate(chosen):
            progress.progress(n / len(chosen), text=f"{image_name} ({n + 1} of {len(chosen)})")
            source = next(i for i in sel.images if i.name == image_name)
            image, _ = cache.decoded_image(source.digest, source.data, source.name)
            a, b = (at_threshold(cache.analysis(m.key, source.digest, m, image), sel.threshold) for m in pair)
            result = cache.comparison(pair[0].key, pair[1].key, source.digest, sel.threshold, a, b)
            if with_cams and result.detections.kept:  # the best match's CAM difference at c4
                result = with_cam_differences(result, (context.cam_source(pair[0], source.digest, a),
                                                       context.cam_source(pair[1], source.digest, b)))
            slides = comparison_slides(a, b, result, image, image_name=image_name)  # 16:9 pages
            pages += slides
            pngs.update({f"{stem(image_name)}_slide{k + 1}.png": figure_bytes(slide, "png")
                         for k, slide in enumerate(slides)})
        progress.progress(1.0, text=f"{len(chosen)} image{'s' if len(chosen) != 1 else ''} done")
        st.session_state["deck"] = (pdf_pages(pages), zip_files(pngs), len(pages))
else:
    heavy_ui.stopped_note("deck")
if "deck" in st.session_state:
    pdf, archive, count = st.session_state["deck"]
    row = st.columns(2)
    pages = f"{count} slide{'s' if count != 1 else ''}"
    row[0].download_button(f"Presentation: {pages}, PDF", pdf, "bam_comparison.pdf", "application/pdf",
                           icon=":material/download:", on_click="ignore", key="deck_pdf")
    row[1].download_button(f"Presentation: {pages}, PNG in a ZIP", archive, "bam_comparison_png.zip",
                           "application/zip", icon=":material/download:", on_click="ignore", key="deck_zip")
