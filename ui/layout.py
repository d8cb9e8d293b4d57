"""Page set-up: what every page draws first (password gate, presenter style, title, caption) and
the sidebar (presenter toggle, data source, latest model, a running job)."""

from __future__ import annotations

import streamlit as st

from mnist_core.data import sources as core_data
from ui import state as keys
from ui.access import require_password
from ui.caches import run_listing, source_info
from ui.jobs import job_running
from ui.presenter import present_from_url, present_style, present_toggle
from ui.registry import APP_NAME, enter_through_app, step
from ui.widgets import persistent


def page(title: str, caption: str | None = None, heading: str | None = None) -> None:
    """Common page set-up: style, heading (the registry's icon and the page title, unless
    given), caption and the sidebar. A shared demo (MNIST_STUDIO_PASSWORD) asks for its
    password first, once per session. A run that skipped app.py (a deep link as a fresh
    server's first request) is first rerun through it (`enter_through_app`)."""
    enter_through_app()
    require_password()
    present_from_url()
    present_style()
    st.title(f"{step(title).icon} {heading or title}")
    if caption:
        st.caption(caption)
    sidebar()


def sidebar() -> None:
    """Presenter mode, data source and latest model, on every page."""
    with st.sidebar:
        st.markdown(f"#### {APP_NAME}")
        present_toggle()
        try:
            info = source_info()
            st.markdown(f"**Data:** {info.name}")
            if info.note:
                st.caption(info.note)
        except core_data.DataError as exc:
            st.error(str(exc))
        listing = run_listing()
        found = listing.runs
        st.markdown(f"**Latest model:** {found[0].label}" if found else "**Model:** none trained yet")
        if listing.damaged:
            st.caption(f"⚠️ {listing.note}")
        if job_running():
            st.info("A job of yours is queued or running in the background…", icon="⏳")
        st.text_input(
            "Your name on shared jobs",
            max_chars=24,
            placeholder="e.g. Ada",
            help="Shown with the jobs you start and saved with the runs you train, so people "
            "sharing this app can tell whose is whose.",
            **persistent(keys.APP_NICKNAME, ""),
        )
