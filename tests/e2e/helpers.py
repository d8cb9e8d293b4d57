"""Small Playwright helpers shared by the browser tests: open a page, wait for Streamlit, check for errors."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

APP_SELECTOR = "[data-testid='stApp']"
STATUS_SELECTOR = "[data-testid='stStatusWidget']"
EXCEPTION_SELECTOR = "[data-testid='stException']"
DIALOG_SELECTOR = "[data-testid='stDialog']"  # e.g. Streamlit's "Page not found", which blocks clicks
SETTLE_MS = 400


def wait_for_app(page: Page, timeout: int = 60_000) -> None:
    """Wait until the app is rendered and its script run has finished.

    The app root carries the script state in `data-test-script-state` ("initial" before the
    first run, then "running" / "notRunning" ...). A run can start a moment after another
    ends (a rerun, a fragment), so the wait requires "notRunning" and no running status
    widget twice, a settle apart.
    """
    page.wait_for_selector(APP_SELECTOR, state="attached", timeout=timeout)
    for _ in range(2):
        page.wait_for_function(
            """([app, status]) => {
                const root = document.querySelector(app);
                const widget = document.querySelector(status);
                return root && root.getAttribute('data-test-script-state') === 'notRunning'
                    && !(widget && /running/i.test(widget.innerText || ''));
            }""",
            arg=[APP_SELECTOR, STATUS_SELECTOR],
            timeout=timeout,
        )
        page.wait_for_timeout(SETTLE_MS)


def assert_no_exception(page: Page) -> None:
    """Fail with Streamlit's own error text if the page shows an exception box or a dialog
    (such as "Page not found") that the app did not open itself."""
    dialogs = page.locator(DIALOG_SELECTOR)
    if dialogs.count():
        raise AssertionError(f"The page shows a dialog: {dialogs.first.inner_text()!r}")
    boxes = page.locator(EXCEPTION_SELECTOR)
    if boxes.count():
        texts = "\n---\n".join(boxes.nth(i).inner_text() for i in range(boxes.count()))
        raise AssertionError(f"The page shows {boxes.count()} exception(s):\n{texts}")


def goto(page: Page, url: str, timeout: int = 60_000) -> None:
    """Open `url` and wait for the app's script run to finish."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    wait_for_app(page, timeout)


def assert_in_viewport(page: Page, element: Locator, what: str) -> None:
    """`element` lies wholly inside the browser window as it is now (nothing to scroll to)."""
    box = element.bounding_box()
    assert box is not None, f"{what} is not on the page"
    size = page.viewport_size
    inside = (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )
    assert inside, f"{what} at {box} is not inside the {size['width']}×{size['height']} window"


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`, as a person does, and wait for the rerun."""
    page.locator("[data-testid='stSelectbox']").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def type_in(page: Page, label: str, value: str) -> None:
    """Type `value` into the input labelled `label` and press Enter."""
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_for_app(page)


def nav(page: Page, title: str) -> None:
    """Open a page from the sidebar's navigation."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).click()
    wait_for_app(page)
