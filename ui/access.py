"""Sharing the app: the password gate and what a visitor may read.

When the server listens beyond loopback (`make run HOST=0.0.0.0`) visitors are strangers: the
folder data source is confined to the allowed data roots, and MNIST_STUDIO_PASSWORD, when set,
is asked for once per browser session.
"""

from __future__ import annotations

import streamlit as st

from mnist_core.data import access as core_access
from ui.registry import APP_NAME

AUTH_KEY = "_authenticated"  # the session gave the demo password


def shared() -> bool:
    """Whether the server listens beyond loopback."""
    return not core_access.is_loopback(st.get_option("server.address"))


def allowed_folder(text: str) -> str:
    """The folder a visitor typed, checked against the allowed roots when the app is shared
    (raises DataError with a message that reveals nothing outside them)."""
    return str(core_access.check_data_folder(text)) if shared() else text


def require_password() -> None:
    """When MNIST_STUDIO_PASSWORD is set, ask for it once per browser session; stop until given."""
    expected = core_access.demo_password()
    if expected is None or st.session_state.get(AUTH_KEY):
        return
    st.title(f"🔒 {APP_NAME}")
    with st.form("password_form"):
        given = st.text_input("Password", type="password", help="This shared demo asks for a password.")
        submitted = st.form_submit_button("Enter", type="primary")
    if submitted and core_access.password_ok(given, expected):
        st.session_state[AUTH_KEY] = True
        st.rerun()
    if submitted:
        st.error("That is not the password.")
    st.stop()
