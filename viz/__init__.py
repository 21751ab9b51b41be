"""Interpretability engine for one image: capture, CAMs, comparison and rendering. Plain Python,
no Streamlit. Measures over a dataset are the evaluation package's."""
