"""Hierarchical attention: per attention stage, what enters the module, what it weighs (channels,
positions, both) and what comes out."""

import pandas as pd
import streamlit as st

from app import context, widgets
from app.exports import png_bytes, rows_csv, stem
from models.attention import ATTENTION_REGISTRY, NO_ATTENTION
from models.bam import FORMULAS, FUSIONS
from viz.figures import hierarchical_attention_figure
from viz.views import attention as view
from viz.views import with_colorbar

TOP_K = 24  # channels in each bar chart

sel, pair, found = context.page("Hierarchical attention")

picked = widgets.model_picker_ui(pair, "att_model", attention_only=True)
if picked is None:
    types = " or ".join(f"`{name}`" for name in ATTENTION_REGISTRY.names() if name != NO_ATTENTION)
    st.info("Neither model has attention modules: there is nothing to show here. "
            f"Load a model with `MODEL.ATTENTION.TYPE:` {types} in the sidebar.", icon=":material/info:")
    st.stop()
index, loaded = picked
analysis = found[index]
summary = loaded.summary
if summary.fusion:
    st.markdown(f"**{loaded.label}**: {summary.title} {summary.where} · "
                f"fusion **{summary.fusion}**: {FUSIONS[summary.fusion]}, {FORMULAS[summary.fusion]}")
else:
    st.markdown(f"**{loaded.label}**: {summary.title} {summary.where}")

stages = view.attention_stages(analysis)
controls = st.columns([2, 1], vertical_alignment="bottom")
with controls[0]:
    display = widgets.display_ui("att")
shown = controls[1].pills("Stages", stages, default=stages, selection_mode="multi", key="att_stages")
if not shown:
    st.info("No stage chosen: pick one or more stages above.", icon=":material/info:")



def channel_chart(weight_label: str) -> dict:
    """A Vega-Lite bar chart of rows {"channel", "weight"}: the bars ordered by weight, highest
    first, in the spec itself (a chart re-used for another stage's data must not keep the old
    order of its categories)."""
    return {"mark": {"type": "bar"},
            "encoding": {"x": {"field": "channel", "type": "nominal", "title": None,
                               "sort": {"field": "weight", "order": "descending"}},
                         "y": {"field": "weight", "type": "quantitative", "title": weight_label},
                         "tooltip": [{"field": "channel"}, {"field": "weight", "format": ".3f"}]}}


name = stem(sel.image_name)
for stage in shown:
    panels = view.stage_panels(analysis, sel.image, stage, on_image=display.on_image, alpha=display.alpha,
                                cmap=display.cmap, fusion=summary.fusion, stretch=display.stretch)
    with st.container(border=True):
        maps = analysis.capture.attention[stage]
        st.markdown(f"#### {stage} · {maps.channel.size} channels · stride {analysis.capture.strides[stage]}")
        cols = st.columns(5)
        for col, panel_name in zip((cols[0], cols[2], cols[3], cols[4]), view.MAP_PANELS):
            panel = panels[panel_name]
            with col:
                st.markdown(f"**{panel_name}**")
                widgets.panel_ui(panel)
                st.download_button("PNG", lambda panel=panel: png_bytes(with_colorbar(panel)),
                                   f"{name}_{stage}_{panel_name.replace(' ', '_')}.png", "image/png",
                                   key=f"att_{stage}_{panel_name}", icon=":material/download:", on_click="ignore")
        with cols[1]:
            st.markdown("**channel attention**")
            bars = view.channel_bars(analysis, stage, TOP_K).rows()
            st.vega_lite_chart(pd.DataFrame(bars), channel_chart(maps.spec.channel_label), height=230)
            st.caption(f"top {len(bars)} of {maps.channel.size}; highest: "
                       + ", ".join(f"{b['channel']} ({b['weight']:.2f})" for b in bars[:5]))
            every = view.channel_bars(analysis, stage, None)
            st.download_button("CSV", lambda bars=every: rows_csv(bars.rows()), f"{name}_{stage}_channel_attention.csv",
                               "text/csv", key=f"att_{stage}_channels", icon=":material/download:", on_click="ignore")

st.subheader("Per-stage statistics")
st.dataframe(view.statistics_by_stage(analysis), hide_index=True, width="stretch")
st.caption("`channel_*`: the channel attention weights; `spatial_*`: the spatial attention map; "
           "`spatial_area_above_half`: the share of positions it weighs above 0.5; the peak is in image pixels.")

widgets.downloads_row(widgets.figure_items(
    lambda: hierarchical_attention_figure(analysis, sel.image, cmap=display.cmap, on_image=display.on_image,
                                          alpha=display.alpha, stretch=display.stretch, image_name=sel.image_name),
    f"{name}_{('with', 'without')[index]}_attention",
    what="Attention figure") + [("Statistics (CSV)", lambda: rows_csv(view.statistics_rows(analysis)),
                                 f"{name}_attention_statistics.csv", "text/csv")], key="att_fig")
