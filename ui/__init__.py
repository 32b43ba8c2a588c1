"""Streamlit-side helpers shared by the pages (mnist_core stays free of Streamlit)."""
