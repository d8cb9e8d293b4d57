"""Widget values that survive a page switch.

Streamlit forgets a widget's value when its page is not drawn; `persist_state="session"` keeps
it for the browser session.
"""

from __future__ import annotations

from typing import Any

import streamlit as st


def persistent(key: str, default: Any) -> dict[str, Any]:
    """Widget kwargs whose value survives leaving the page and coming back. The default goes into
    session state once, so widgets need no `value=` (which would fight code that sets the key
    from a callback)."""
    if key not in st.session_state:
        st.session_state[key] = default
    return {"key": key, "persist_state": "session"}
