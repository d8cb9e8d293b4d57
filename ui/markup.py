"""The one module that reaches into Streamlit's rendered markup (its `data-testid` attributes),
for what no public option does yet. Everything else styles through public means: the theme in
`.streamlit/config.toml` (colours, `metricValueFontSize`, `paddingTop`), `st.container(key=...)`
(the public `st-key-<key>` class) and the app's own HTML classes.

If Streamlit renames the uploader's test id, the Deploy page's browser test of a refused upload
fails (tests/e2e/test_deploy_browser.py); presenter mode's sizes would merely fall back to the theme's.
"""

from __future__ import annotations

import re

# Presenter mode is per browser session, and theme options are per server: no public option sizes
# metrics, captions or the title for one session, and none hides `st.caption` text. (`teach()`
# hides the teaching captions it draws; this also hides the captions pages draw themselves.)
# `.deploy-answer` is the Deploy page's own class.
PRESENT_CSS = """
<style>
[data-testid="stMain"] [data-testid="stCaptionContainer"] { display: none; }
[data-testid="stMetricValue"] { font-size: 2.6rem; }
[data-testid="stMetricLabel"] p { font-size: 1.1rem; }
.deploy-answer { font-size: 10rem !important; }
[data-testid="stMain"] h1 { font-size: 2.2rem; padding-top: 0; }
</style>
"""

# `st.file_uploader` refuses a wrong type or a too-large file in the browser and keeps its previous
# file as its value: no public API says that a file was refused. The refused file's chip carries
# this error icon; ui/deploy_widgets.py counts them inside the keyed (`st-key-<key>`) uploader.
REFUSED_FILE_SELECTOR = '[data-testid="stFileChipIconError"]'


def key_class(key: str) -> str:
    """The public CSS class Streamlit gives an element with `key`: `st-key-` and the key with every
    character outside [a-zA-Z0-9_-] made a dash (so "deploy.upload" is `st-key-deploy-upload`)."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())
