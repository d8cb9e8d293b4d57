"""MNIST Workflow Studio: `streamlit run app.py`.

The entry point only declares the pages (from the one registry in `ui.STEPS`) and runs the
one the visitor asked for; each page is a script in `pages/`, named after its URL path. (A deep
link as a fresh server's first request skips this file once, in Streamlit's legacy `pages/` mode;
`ui.page()` then reruns it through here: see ui/registry.py.)
"""

from __future__ import annotations

import streamlit as st

import ui

st.set_page_config(page_title=ui.APP_NAME, page_icon="🧭", layout="wide")
ui.navigate()
