"""Flash messages: a message queued in a widget callback and shown on the page's next run.

Callbacks run before the page draws, and a rerun would drop anything they show, so they queue
the message for their page instead; the page shows it where it calls `show_flash()`.
"""

from __future__ import annotations

import streamlit as st

from ui import state as keys
from ui.registry import current_page


def flash(level: str, text: str) -> None:
    """Queue a message for the next run of this page. `level`: success, info, warning, error or toast."""
    st.session_state.setdefault(keys.APP_FLASH, {})[current_page()] = (level, text)


def show_flash() -> None:
    """Show (once) the message queued for this page, where this is called."""
    queued = st.session_state.get(keys.APP_FLASH, {}).pop(current_page(), None)
    if queued is None:
        return
    level, text = queued
    if level == "toast":
        st.toast(text)
    else:
        {"success": st.success, "warning": st.warning, "error": st.error}.get(level, st.info)(text)
