"""Front ends: the Streamlit pages and the command-line interface. Only here is streamlit imported."""
