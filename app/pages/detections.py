"""Detections: both models side by side (masks, boxes, scores) and what changed between them."""

import json

import streamlit as st

from app import cache, context, widgets
from app.exports import rows_csv, stem
from viz.analysis import summary
from viz.figures import detections_figure
from viz.views import detections as view

sel, pair, found = context.page("Detections", intro=widgets.gallery_ui)
comparison = context.comparison(sel, pair, found)
diff = comparison.detections
with_att, without_att = found

source = next(i for i in sel.images if i.name == sel.image_name)
truth = cache.ground_truth(source.name, source.digest) if source.origin == "sample" else None
show_truth = truth is not None and st.toggle("Show the ground truth", value=True, key="det_truth",
                                             help="The demo samples come with their annotations.")
cols = st.columns(3 if show_truth else 2)
if show_truth:
    with cols[0]:
        st.markdown("**Ground truth**")
        st.image(view.ground_truth_picture(sel.image, truth.masks), width="stretch",
                 caption=view.ground_truth_caption(truth))
for col, loaded, analysis, other in ((cols[-2], pair[1], without_att, with_att),
                                     (cols[-1], pair[0], with_att, without_att)):
    with col:
        st.markdown(f"**{analysis.label}**")
        picture = cache.detections_picture(loaded.key, sel.image_key, sel.threshold, analysis, sel.image)
        st.image(picture, width="stretch",
                 caption=f"{len(analysis.detections)} detections with score ≥ {sel.threshold:.2f}")
        scores = analysis.capture.instances.scores.numpy()[analysis.detections]
        m1, m2 = st.columns(2)
        m1.metric("Detections", len(analysis.detections),
                  delta=len(analysis.detections) - len(other.detections) if analysis is with_att else None,
                  delta_color="off", help="Compared with the model without attention." if analysis is with_att else None)
        m2.metric("Best score", f"{scores.max():.2f}" if len(scores) else "–")

st.subheader("What changed with attention")
counts = view.detection_summary(with_att, without_att, diff)
c = st.columns(4)
c[0].metric("Kept", counts["kept"], help="Found by both models (same class, mask IoU ≥ 0.5).")
c[1].metric("Gained", counts["gained"], help="Found only with attention.")
c[2].metric("Lost", counts["lost"], help="Found only without attention.")
c[3].metric("Mean score change (kept)",
            "–" if counts["mean score change"] is None else f"{counts['mean score change']:+.3f}")
rows = view.detection_rows(with_att, without_att, diff)
if rows:
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "score with": st.column_config.NumberColumn(format="%.3f"),
        "score without": st.column_config.NumberColumn(format="%.3f"),
        "score change": st.column_config.NumberColumn(format="%+.3f"),
        "mask IoU": st.column_config.NumberColumn(format="%.2f"),
    })
else:
    st.info(f"Neither model detects anything with score ≥ {sel.threshold:.2f}. Lower the threshold in the sidebar.")

name = stem(sel.image_name)
widgets.downloads_row(
    widgets.figure_items(lambda: detections_figure([without_att, with_att], sel.image), f"{name}_detections",
                         what="Detections figure")
    + [("Changes (CSV)", lambda: rows_csv(rows), f"{name}_detection_changes.csv", "text/csv"),
       ("Analysis (JSON)", lambda: json.dumps(summary([with_att, without_att], comparison), indent=2),
        f"{name}_analysis.json", "application/json")],
    key="det")
