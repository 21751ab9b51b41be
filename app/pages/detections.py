"""Detections: both models side by side (masks, boxes, scores) and what changed between them."""

import json

import streamlit as st

from app import cache, context, widgets
from app.exports import rows_csv, stem
from app.intro import intro_ui
from viz.analysis import summary
from viz.figures import detections_figure
from viz.views import detections as view


def intro(selection) -> None:
    """The first page opens with what BAM and the demo models are, then the gallery."""
    intro_ui()
    widgets.gallery_ui(selection)


sel, pair, found = context.page("Detections", intro=intro)
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
pictures = cache.detection_panels(pair[0].key, pair[1].key, sel.image_key, sel.threshold, with_att, without_att,
                                  diff, sel.image)
for col, panel, analysis, other in ((cols[-2], pictures[0], without_att, with_att),
                                    (cols[-1], pictures[1], with_att, without_att)):
    with col:
        widgets.panel_ui(panel, title=True)
        scores = analysis.capture.instances.scores.numpy()[analysis.detections]
        m1, m2 = st.columns(2)
        change = len(analysis.detections) - len(other.detections) if analysis is with_att else 0
        # a delta of 0 would show a bare grey "0" badge: only a real change is shown, short enough for
        # a third of the page (its meaning in the help)
        m1.metric("Detections", len(analysis.detections), delta=f"{change:+d}" if change else None,
                  delta_color="off", help=f"With score ≥ {sel.threshold:.2f}." + (
                      f" The badge: {abs(change)} {'more' if change > 0 else 'fewer'} than without attention."
                      if change else ""))
        m2.metric("Best score", f"{scores.max():.2f}" if len(scores) else "–")

st.caption(view.LEGEND[0].upper() + view.LEGEND[1:] + ".")

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
    widgets.table_ui(rows, {"score with": "{:.3f}", "score without": "{:.3f}", "score change": "{:+.3f}",
                            "mask IoU": "{:.2f}"})
    st.caption("“with #” and “without #”: the instance's number in each model's picture above (the label "
               "“crack 87% · #3”; a matched pair shares a colour); “–”: that model has no such instance.")
else:
    st.info(f"Neither model detects anything with score ≥ {sel.threshold:.2f}. Lower the threshold in the sidebar.")

name = stem(sel.image_name)
widgets.downloads_row(
    widgets.figure_items(lambda: detections_figure(with_att, without_att, sel.image, image_name=sel.image_name),
                         f"{name}_detections",
                         what="Detections figure")
    + [("Changes (CSV)", lambda: rows_csv(rows), f"{name}_detection_changes.csv", "text/csv"),
       ("Analysis (JSON)", lambda: json.dumps(summary([with_att, without_att], comparison), indent=2),
        f"{name}_analysis.json", "application/json")],
    key="det")
