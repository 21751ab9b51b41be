"""Entry point: `streamlit run streamlit_app.py`. Page set-up and routing only."""

import streamlit as st

from app import home

st.set_page_config(page_title="BAM attention explorer", layout="wide")
home.render()
