"""recon's Streamlit dashboard: navigation only; pages live in recon/dashboard."""

from __future__ import annotations

import streamlit as st

from recon.dashboard import overview

st.set_page_config(page_title="recon", layout="wide")
page = st.navigation([st.Page(overview.render, title="Overview", url_path="overview", default=True)])
page.run()
