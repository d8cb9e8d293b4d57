"""A session whose first run skips app.py (Streamlit's legacy `pages/` mode runs a deep-linked page
script alone on a fresh server) is rerun through app.py's navigation: `ui.registry.enter_through_app`.
The browser side (the app's sidebar, the wide layout) is tests/e2e/test_navigation.py."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

import ui
from ui import state as keys

REPO = Path(__file__).resolve().parents[2]


def test_a_first_run_that_skipped_app_py_is_rerun_through_it():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.switch_page(ui.step("Data").file).run()  # AppTest's first run: pages/Data.py alone
    assert not at.exception
    assert at.title[0].value == f"{ui.step('Data').icon} Data"
    assert at.session_state[keys.APP_CURRENT_PAGE] == "Data"  # unset had app.py never run
    at.run()  # later runs: no second rerun, the page stays
    assert not at.exception and at.title[0].value.endswith("Data")
