"""The landing page: which models this install can build, until the full app lands."""

import streamlit as st

import models


def render() -> None:
    st.title("BAM attention explorer for Mask R-CNN")
    st.write("Mask R-CNN on detectron2 with BAM / CBAM after ResNet stages res2, res3 and res4.")
    rows = []
    for path in sorted(models.CONFIG_DIR.glob("mask_rcnn_*.yaml")):
        rows.append({"config": path.name, "model": str(models.describe(models.get_config(path)))})
    st.dataframe(rows, hide_index=True)
