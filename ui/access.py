"""Sharing the app: the password gate and what a visitor may read.

When the server listens beyond loopback (`make run HOST=0.0.0.0`) visitors are strangers: the
folder data source is confined to the allowed data roots, and MNIST_STUDIO_PASSWORD, when set,
is asked for once per browser session.
"""

from __future__ import annotations

import logging
import time
import uuid

import streamlit as st

from mnist_core.data import access as core_access
from ui import state as keys
from ui.registry import APP_NAME

_LOG = logging.getLogger(__name__)


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
    if expected is None or st.session_state.get(keys.APP_AUTHENTICATED):
        return
    st.title(f"🔒 {APP_NAME}")
    with st.form("password_form"):
        given = st.text_input("Password", type="password", help="This shared demo asks for a password.")
        submitted = st.form_submit_button("Enter", type="primary")
    if submitted and core_access.password_ok(given, expected):
        _backoff().succeeded(_session_key())
        st.session_state[keys.APP_AUTHENTICATED] = True
        st.rerun()
    if submitted:
        who = [_session_key(), f"address:{st.context.ip_address or 'unknown'}"]
        delay = _backoff().failed(who)
        _LOG.warning("Wrong demo password from %s; its answer waits %.1f s", who[1], delay)
        _wait(delay)  # per session and per address: guessing in parallel sessions gains nothing
        st.error("That is not the password.")
    st.stop()


def _wait(seconds: float) -> None:
    time.sleep(seconds)


@st.cache_resource(show_spinner=False)
def _backoff() -> core_access.PasswordBackoff:
    """One count of wrong passwords for the whole server (every session, every address)."""
    return core_access.PasswordBackoff()


def _session_key() -> str:
    if keys.APP_PASSWORD_SESSION not in st.session_state:
        st.session_state[keys.APP_PASSWORD_SESSION] = uuid.uuid4().hex
    return f"session:{st.session_state[keys.APP_PASSWORD_SESSION]}"
