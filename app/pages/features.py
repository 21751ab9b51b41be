"""Feature maps: the strongest channels of any captured layer (c2..c5, before / after attention,
FPN p2..p6) as a grid, and one channel large."""

import streamlit as st

from app import context, widgets
from app.exports import stem
from app.model_choice import ROLES
from viz.catalogue import layer_catalogue
from viz.render import SEQUENTIAL_CMAPS
from viz.views import features as view

sel, pair, found = context.page("Feature maps")

index, loaded = widgets.model_picker_ui(pair, "feat_model")
analysis = found[index]
catalogue = layer_catalogue(loaded.model)
layers = view.feature_layers(analysis)

row = st.columns([1.3, 1.2, 1, 1], vertical_alignment="bottom")
default_layer = "c4" if "c4" in layers else layers[0]
layer = row[0].selectbox("Layer", layers, index=layers.index(default_layer), key="feat_layer",
                         format_func=lambda n: f"{n}: {catalogue[n].description}" if n in catalogue else n)
stage = view.attention_stage_of(analysis, layer)
orders = view.FEATURE_ORDERS if stage else view.FEATURE_ORDERS[:1]
order = row[1].radio("Order channels by", orders, key="feat_order", horizontal=True,
                     help="Mean |activation| over the image, or the channel attention weight of this stage "
                          "(layers with attention only).")
top_k = row[2].slider("Channels", 4, 64, 16, 4, key="feat_k")
cmap = row[3].selectbox("Colormap", list(dict.fromkeys(["viridis", *SEQUENTIAL_CMAPS])), key="feat_cmap")

features = analysis.capture.features[layer]
channels = view.channel_order(analysis, layer, order, top_k)
st.caption(f"{layer}: {features.shape[0]} channels, {features.shape[1]} × {features.shape[2]} "
           f"(stride {analysis.capture.strides[layer]}); the {len(channels)} strongest by {order}, "
           "each tile scaled to its own range, channel number in its corner.")
grid = view.feature_grid(analysis, layer, channels, cmap=cmap)
st.image(grid, width="stretch", output_format="PNG")

st.subheader("One channel")
left, right, _ = st.columns([1, 1.6, 0.6])
with left:
    channel = st.selectbox("Channel", [int(c) for c in channels], key="feat_channel",
                           format_func=lambda c: f"#{c}")
    on_image = st.toggle("On the image", value=True, key="feat_on_image")
    alpha = st.slider("Opacity", 0.0, 1.0, 0.6, 0.05, key="feat_alpha", disabled=not on_image)
    panel = view.channel_panel(analysis, sel.image, layer, channel, on_image=on_image, alpha=alpha, cmap=cmap)
    st.caption(panel.caption)
right.image(panel.image, caption=panel.title, width="stretch")

name = f"{stem(sel.image_name)}_{ROLES[index]}_{layer}"
widgets.downloads_row([widgets.png_item("Channel grid (PNG)", grid, f"{name}_top{len(channels)}.png"),
                       widgets.png_item(f"Channel {channel} (PNG)", panel.image, f"{name}_channel{channel}.png")],
                      key="feat")
