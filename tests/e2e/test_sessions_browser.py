"""Three people on one app server (issue 25): each starts a training on Train and watches only
their own; two run at once while the third waits with its place in line shown; the owner of a
running one stops it (saved as stopped) and the waiting one starts.

The server is this test's own, with a local Dask cluster of two single-threaded workers
(MNIST_STUDIO_WORKERS=2, MNIST_STUDIO_THREADS=1), so exactly two trainings run at once. Each
person is a browser context of their own, i.e. a Streamlit session of their own. A reload is a
new session too: it no longer sees the job it started (the job goes on and is saved; only the
presenter of a password-protected demo sees everyone's jobs, see ui/jobs.py `sees_all`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mnist_core.runs.listing import scan_runs
from tests.e2e.conftest import ARTIFACTS, run_server
from tests.e2e.helpers import assert_no_exception, goto, nav, type_in, wait_for_app
from tests.e2e.test_train_browser import START, progress_text, set_slider, stop_button

pytestmark = pytest.mark.browser

PEOPLE = {"Ada": "ada-run", "Bob": "bob-run", "Cy": "cy-run"}  # nickname -> the run they name
LIVE = ".st-key-train-live"  # pages/Train.py: the box the live job is drawn in
BAR = "[data-testid='stProgress']"
SLOW_MS = 240_000  # a shared 2-core host: starting the cluster and a first epoch can take minutes
QUEUED_FIRST = "queued: 1st in line for a free worker"  # jobs/progress.py queued_text(1)
PAST_FIRST_EPOCH = re.compile(r"epoch ([2-9]|\d\d+)/500")  # an epoch has ended: something to save


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A server of its own whose cluster runs two jobs at once: its URL and studio home."""
    home = tmp_path / "studio"
    env = {"MNIST_STUDIO_WORKERS": "2", "MNIST_STUDIO_THREADS": "1"}
    with run_server(home, tmp_path / "cache", tmp_path / "streamlit.log", env) as url:
        yield url, home


@pytest.fixture
def people(browser, request: pytest.FixtureRequest) -> Iterator[dict[str, Page]]:
    """One browser context (one Streamlit session) per person; screenshots if the test fails."""
    pages = {}
    for nick in PEOPLE:
        pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        pg.set_default_timeout(60_000)
        pages[nick] = pg
    try:
        yield pages
    finally:
        report = getattr(request.node, "rep_call", None)
        for nick, pg in pages.items():
            if report is not None and report.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                try:
                    pg.screenshot(path=str(ARTIFACTS / f"sessions_{nick}.png"), full_page=True)
                except Exception as exc:  # a dead page must not hide the real failure
                    print(f"screenshot of {nick} failed: {exc}")
            pg.context.close()


def prepare(page: Page, url: str, nick: str) -> None:
    """Open Train, give oneself a nickname, name the run and make it long (500 epochs of 54
    batches: far longer than the test looks)."""
    goto(page, f"{url}/Train")
    assert_no_exception(page)
    type_in(page, "Your name on shared jobs", nick)
    type_in(page, "Run name (optional)", PEOPLE[nick])
    assert set_slider(page, "Epochs", 500) == "500"
    assert set_slider(page, "Batch size", 64) == "64"
    expect(page.get_by_role("button", name=START)).to_be_enabled(timeout=SLOW_MS)


def start(page: Page) -> None:
    page.get_by_role("button", name=START).click()
    expect(page.locator(LIVE)).to_be_visible(timeout=SLOW_MS)
    expect(stop_button(page)).to_be_enabled(timeout=SLOW_MS)


def sees_only_own(page: Page, nick: str, *, live: bool = True, whole_page: bool = False) -> None:
    """This person's live view (one progress bar while `live`) names nobody else's run; with
    `whole_page`, neither does anything on the page (only before any run is saved: saved runs
    are everyone's, and the run history lists them)."""
    if live:
        expect(page.locator(BAR)).to_have_count(1, timeout=SLOW_MS)
    text = page.locator(LIVE).inner_text() if page.locator(LIVE).count() else ""
    main = page.locator("[data-testid='stMain']").inner_text() if whole_page else ""
    for other, run in PEOPLE.items():
        if other != nick:
            assert run not in text, f"{nick}'s live view shows {other}'s run: {text!r}"
            assert run not in main, f"{nick}'s page shows {other}'s run: {main!r}"
    assert_no_exception(page)


def running_own(page: Page, nick: str, whole_page: bool = False) -> None:
    """This person's job runs: the bar names their run, past its first epoch."""
    bar = page.locator(BAR)
    expect(bar).to_contain_text(PEOPLE[nick], timeout=SLOW_MS)
    expect(bar).to_contain_text(PAST_FIRST_EPOCH, timeout=SLOW_MS)
    sees_only_own(page, nick, whole_page=whole_page)


def stop_and_check(page: Page) -> None:
    stop_button(page).click()
    expect(page.get_by_role("button", name=START)).to_be_enabled(timeout=SLOW_MS)
    expect(page.locator(BAR)).to_have_count(0, timeout=SLOW_MS)
    expect(page.get_by_text("Stopped by the user")).to_be_visible(timeout=SLOW_MS)
    assert_no_exception(page)


def runs_by_name(home: Path) -> dict[str, dict]:
    return {r.meta.get("name"): r.meta for r in scan_runs(home).runs}


def test_three_sessions_each_watch_and_stop_only_their_own(two_workers, people):
    url, home = two_workers
    ada, bob, cy = people["Ada"], people["Bob"], people["Cy"]
    for nick, page in people.items():
        prepare(page, url, nick)

    # Ada and Bob start; two workers, so both run at once.
    start(ada)
    start(bob)
    running_own(ada, "Ada", whole_page=True)
    running_own(bob, "Bob", whole_page=True)

    # Cy starts third and waits, first in line, with no sight of the two running jobs.
    start(cy)
    expect(cy.locator(BAR)).to_have_text(QUEUED_FIRST, timeout=SLOW_MS)
    sees_only_own(cy, "Cy", whole_page=True)
    expect(cy.get_by_text("A job of yours is queued or running")).to_be_visible(timeout=SLOW_MS)
    # Cy's Home (same session, by the sidebar) says the same, and how busy the server is.
    nav(cy, "Home")
    main = cy.locator("[data-testid='stMain']")
    expect(main).to_contain_text("1 of yours queued or running", timeout=SLOW_MS)
    expect(main).to_contain_text(f"cy-run: {QUEUED_FIRST}", timeout=SLOW_MS)
    expect(main).to_contain_text("On this server: 2 running, 1 queued.", timeout=SLOW_MS)
    assert "ada-run" not in main.inner_text() and "bob-run" not in main.inner_text()
    assert_no_exception(cy)
    nav(cy, "Train")
    expect(cy.locator(BAR)).to_have_text(QUEUED_FIRST, timeout=SLOW_MS)
    # still queued after all that: the two others run on, each in its owner's view only
    running_own(ada, "Ada", whole_page=True)
    running_own(bob, "Bob", whole_page=True)
    assert runs_by_name(home) == {}  # nothing has ended yet

    # Ada stops hers: saved as stopped, under her name; her worker goes to Cy's job.
    stop_and_check(ada)
    sees_only_own(ada, "Ada", live=False, whole_page=True)
    saved = runs_by_name(home)
    assert list(saved) == ["ada-run"] and saved["ada-run"]["status"] == "stopped", saved
    assert saved["ada-run"]["started_by"] == "Ada"
    running_own(cy, "Cy")
    running_own(bob, "Bob")
    first = progress_text(bob)
    expect(bob.locator(BAR)).not_to_have_text(first, timeout=SLOW_MS)  # Bob's still moves

    # Cy stops hers, as its owner: saved as stopped, under her name.
    stop_and_check(cy)
    saved = runs_by_name(home)
    assert set(saved) == {"ada-run", "cy-run"}, saved
    assert saved["cy-run"]["status"] == "stopped" and saved["cy-run"]["started_by"] == "Cy"
    assert saved["ada-run"]["session"] != saved["cy-run"]["session"]
    running_own(bob, "Bob")
    assert "bob-run" not in ada.locator("[data-testid='stMain']").inner_text()

    # A reload is a new session: Bob's reloaded page no longer shows his job, which runs on
    # (Home counts it on the server, as nobody's here); it stops with the server.
    bob.reload(wait_until="domcontentloaded")
    wait_for_app(bob)
    expect(bob.get_by_role("button", name=START)).to_be_enabled(timeout=SLOW_MS)
    expect(bob.locator(BAR)).to_have_count(0, timeout=SLOW_MS)
    expect(bob.get_by_text("A job of yours is queued or running")).to_have_count(0, timeout=SLOW_MS)
    sees_only_own(bob, "Bob", live=False)
    nav(bob, "Home")
    main = bob.locator("[data-testid='stMain']")
    expect(main).to_contain_text("On this server: 1 running, 0 queued.", timeout=SLOW_MS)
    assert "of yours" not in main.inner_text()
    for page in people.values():
        assert_no_exception(page)
