"""Streamlit pages for analysts (imported only by app.py)."""
