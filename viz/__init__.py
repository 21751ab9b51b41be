"""Interpretability engine: capture, CAMs, comparison and rendering. Plain Python, no Streamlit."""
