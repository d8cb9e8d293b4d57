"""Presenter mode: for an audience, the sidebar folds away, teaching captions hide and the
headline numbers grow. A sidebar toggle switches it per browser session; `?present=1` in a
bookmarked address opens a session in it.
"""

from __future__ import annotations

import streamlit as st

from ui import state as keys
from ui.markup import PRESENT_CSS
from ui.widgets import persistent


def presenting() -> bool:
    """Whether this browser session is in presenter mode (off by default)."""
    return bool(st.session_state.get(keys.APP_PRESENT, False))


def present_from_url() -> None:
    """`?present=1` in a bookmarked address opens the session in presenter mode (once: the
    toggle decides after that)."""
    if st.session_state.get(keys.APP_PRESENT_URL_READ):
        return
    st.session_state[keys.APP_PRESENT_URL_READ] = True
    if st.query_params.get("present") in ("1", "true", "yes", "on"):
        st.session_state[keys.APP_PRESENT] = True
        st.set_page_config(initial_sidebar_state="collapsed")


def present_style() -> None:
    """In presenter mode, the audience sees the working parts big, not the teaching captions."""
    if presenting():
        st.html(PRESENT_CSS)


def present_toggle() -> None:
    """The sidebar's switch."""
    st.toggle(
        "🎬 Present",
        **persistent(keys.APP_PRESENT, False),
        on_change=_on_present,
        help="Presenter mode: the sidebar folds away, teaching captions hide and the "
        "headline numbers grow. Bookmark the address to open in it (?present=1).",
    )


def _on_present() -> None:
    if presenting():
        st.query_params["present"] = "1"  # the address now bookmarks presenter mode
        st.set_page_config(initial_sidebar_state="collapsed")
    else:
        st.query_params.pop("present", None)


def teach(text: str) -> None:
    """A teaching caption: shown to learners, hidden in presenter mode."""
    if not presenting():
        st.caption(text)
