"""Browser-test fixtures: a real Streamlit server on a free port and headless Debian Chromium.

The server gets its own empty studio home and data cache, so the tests never see the user's
runs. Chromium is the system one (`which chromium`), never a browser Playwright downloads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
STARTUP_TIMEOUT_S = 60
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "Install it with: bash scripts/install_browser.sh (Debian's chromium package)."


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder drives a browser: mark it so `-m 'not browser'` skips them."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Remember each phase's outcome on the item so the `page` fixture knows about failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@contextlib.contextmanager
def run_server(
    home: Path, cache: Path, log_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """A fresh `streamlit run app.py` on a free port: yields its URL, then stops it and its children."""
    port = _free_port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "MNIST_STUDIO_HOME": str(home),
        "MNIST_STUDIO_CACHE": str(cache),
        # glibc would otherwise map/unmap every large training buffer (see the Makefile).
        "MALLOC_MMAP_THRESHOLD_": "1073741824",
        "MALLOC_TRIM_THRESHOLD_": "1073741824",
    }
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"Streamlit exited with code {proc.returncode}:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Streamlit was not healthy after {STARTUP_TIMEOUT_S} s:\n{log_path.read_text()}")
            time.sleep(0.25)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def studio_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's MNIST_STUDIO_HOME (runs, drawings): empty at the start of the session."""
    return tmp_path_factory.mktemp("e2e-studio")


@pytest.fixture(scope="session")
def app_url(studio_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's app server (shared by all browser tests): its base URL."""
    cache = tmp_path_factory.mktemp("e2e-cache")
    log = tmp_path_factory.mktemp("e2e-log") / "streamlit.log"
    with run_server(studio_home, cache, log) as url:
        yield url


@pytest.fixture
def fresh_app_url(tmp_path: Path) -> Iterator[str]:
    """A server of its own that no browser has visited yet (for deep-link tests); costs a start."""
    with run_server(tmp_path / "studio", tmp_path / "cache", tmp_path / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = f"Chromium is not installed, so the browser tests cannot run. {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """One headless Chromium for the session, with a fresh profile."""
    from playwright.sync_api import sync_playwright

    # launch() refuses --user-data-dir; it gives Chromium a fresh temporary profile of its own
    # (and deletes it on close), which is what a clean test browser needs.
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=60_000)
    except Exception:
        pw.stop()
        raise
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A fresh context and page (1400×1000); a full-page screenshot is saved if the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
            try:
                # Streamlit scrolls inside its main element, so "full page" alone shows one
                # viewport: grow the viewport to the content first.
                height = pg.evaluate(
                    "() => document.querySelector(\"[data-testid='stMain']\")?.scrollHeight || 1000"
                )
                pg.set_viewport_size({"width": 1400, "height": min(max(int(height), 1000), 12_000)})
                pg.wait_for_timeout(300)
                pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as exc:  # a dead page must not hide the real failure
                print(f"screenshot failed: {exc}")
        context.close()


@pytest.fixture
def stop_job_after(page):
    """If a test fails mid-job (a measurement, a search), stop the job so it cannot block the next
    browser test."""
    yield
    stop = page.get_by_role("button", name="■ Stop", exact=True)
    try:
        if stop.count() and stop.is_enabled():
            stop.click()
    except Exception:  # a closed or broken page: nothing left to stop from here
        pass
