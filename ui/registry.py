"""The one list of the app's pages: `STEPS` (the workflow, in order), `HOME` and `DEMO`.

`app.py` builds `st.navigation` from it (`app_navigation`) and `link()` points at it. Each page's
script is `pages/<url path>.py`.

Why `enter_through_app()`: a `pages/` folder beside app.py starts Streamlit (1.67) in its legacy
multipage mode, process-wide, until some session calls `st.navigation`. So when a fresh server's
first request is a deep link (/Data), Streamlit runs pages/Data.py directly, found by file stem (a
file named otherwise would show "Page not found"): app.py never runs, so no wide layout and the
folder's own sidebar (app, Data, demo, home, ...). `ui.page()` calls `enter_through_app()` first: in
a session that has not been through `navigate()` it declares the app's navigation (which ends
legacy mode, and resolves the requested page by its URL path) and reruns; the rerun goes through
app.py to the same page, query parameters kept (tests/e2e/test_navigation.py, test_deep_links.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui import state as keys

APP_NAME = "MNIST Workflow Studio"


@dataclass(frozen=True)
class Step:
    """One page of the app: its file, title, icon, what it is for, and its URL path."""

    number: int  # position in the workflow (0 = Home)
    file: str
    title: str
    icon: str
    blurb: str
    url_path: str


HOME = Step(0, "pages/home.py", "Home", "🧭", "The workflow map and where things stand.", "")
# Reached from Home's "Start the 3-minute demo", not listed in the sidebar.
DEMO = Step(0, "pages/demo.py", "Demo", "🎬", "The six steps in three minutes, for an audience.", "demo")
STEPS: tuple[Step, ...] = (
    Step(
        1,
        "pages/Define_the_task.py",
        "Define the task",
        "🎯",
        "Inputs, outputs and the bar to clear: target accuracy, baselines, labeling cost.",
        "Define_the_task",
    ),
    Step(
        2,
        "pages/Data.py",
        "Data",
        "🔎",
        "Choose the data source; inspect class balance, samples, mean digits, pixels, ink.",
        "Data",
    ),
    Step(
        3,
        "pages/Labels.py",
        "Labels",
        "🏷️",
        "Find the labels a model doubts (K-fold audit with cleanlab), review them, train on the reviewed labels.",
        "Labels",
    ),
    Step(
        4,
        "pages/Preprocess.py",
        "Preprocess",
        "🧹",
        "Scale pixels to 0–1 and split train / validation; the test set stays locked.",
        "Preprocess",
    ),
    Step(
        5,
        "pages/Plan.py",
        "Plan",
        "📈",
        "How many labelled images reach the target: measure a learning curve, read the answer.",
        "Plan",
    ),
    Step(
        6,
        "pages/Train.py",
        "Train",
        "🏋️",
        "Train baselines, MLPs and CNNs in the background and watch the curves live.",
        "Train",
    ),
    Step(
        7,
        "pages/Tune.py",
        "Tune",
        "🎛️",
        "Search learning rate, dropout, weight decay and more with Optuna; prune hopeless trials.",
        "Tune",
    ),
    Step(
        8,
        "pages/Evaluate.py",
        "Evaluate",
        "📊",
        "Accuracy against your target, confusions, mistakes; the test set when you are done.",
        "Evaluate",
    ),
    Step(
        9,
        "pages/Deploy.py",
        "Deploy",
        "🚀",
        "Draw digits for the model, collect field data, export the model.",
        "Deploy",
    ),
)


def step(title: str) -> Step:
    """The page called `title` (e.g. "Data")."""
    for s in (HOME, DEMO, *STEPS):
        if s.title == title:
            return s
    raise KeyError(title)


def navigation_pages() -> list[st.Page]:
    """The `st.Page` list handed to `st.navigation`."""
    pages = [st.Page(HOME.file, title=HOME.title, icon=HOME.icon, default=True)]
    pages += [st.Page(s.file, title=s.title, icon=s.icon, url_path=s.url_path) for s in STEPS]
    pages.append(
        st.Page(DEMO.file, title=DEMO.title, icon=DEMO.icon, url_path=DEMO.url_path, visibility="hidden")
    )
    return pages


def app_navigation() -> st.Page:
    """Declare the app's pages to Streamlit (the sidebar) and return the one asked for, not run."""
    return st.navigation(navigation_pages())


def navigate() -> None:
    """Run the page the visitor asked for, remembering which one it is: widget callbacks run
    before the page draws, inside the run of the page that drew the widget, and a message they
    queue (`ui.flash`) belongs to that page."""
    chosen = app_navigation()
    st.session_state[keys.APP_CURRENT_PAGE] = chosen.title
    chosen.run()


def enter_through_app() -> None:
    """If this session has never been through app.py (Streamlit's legacy `pages/` mode ran a
    deep-linked page script directly, as the session's first run: see the module docstring),
    declare the app's navigation and rerun: the rerun runs app.py, which draws the same page.

    `navigate()` sets APP_CURRENT_PAGE before it runs a page; so does this, which makes it once per
    session: a Streamlit that stayed in legacy mode would draw the page as before rather than
    rerun forever. (Only a session's first run can skip app.py on a server: the first
    `st.navigation` ends legacy mode for the whole process. AppTest re-enters legacy mode on every
    run; its sessions start in app.py, so this leaves them alone.)"""
    if keys.APP_CURRENT_PAGE in st.session_state:
        return
    st.session_state[keys.APP_CURRENT_PAGE] = app_navigation().title
    st.rerun()


def current_page() -> str:
    """The title of the page being drawn ("" outside `navigate`, e.g. a page script run alone)."""
    return st.session_state.get(keys.APP_CURRENT_PAGE, "")


def link(title: str, label: str | None = None, icon: str | None = None) -> None:
    """A link to another page of the app."""
    s = step(title)
    st.page_link(s.file, label=label or s.title, icon=icon or s.icon)
