"""Stroke end → answer on the Deploy page, in a real browser: ten digits drawn with the mouse on
streamlit-drawable-canvas with a trained CNN, each answer checked, the median printed (run
with `-s`).

The clock runs inside the page: from the mouse button's release to the frame after the answer
appears (and, printed too, after the probability bars are drawn).
The figure is printed next to its target (issue 21: ≤ 350 ms median, 200 ms of which is the
canvas' own debounce before it sends a drawing), never asserted; the machine is shared and noisy.
"""

from __future__ import annotations

import math
import re
import statistics

import pytest
from playwright.sync_api import Page

from mnist_core.config import quick_config
from tests.e2e.helpers import assert_no_exception, goto, wait_for_app
from tests.helpers import train_to_run

pytestmark = pytest.mark.slow

# streamlit-drawable-canvas draws in an open shadow root, which Playwright's CSS reaches into;
# Fabric.js takes the pointer on its upper canvas.
COMPONENT = "div[data-testid='stBidiComponentIsolated']"
CANVAS = f"{COMPONENT} canvas.upper-canvas"
ANSWER = ".deploy-answer"
DIGITS = "1702691702"
TARGET_MS = 350

# One stroke per digit, in canvas units (0..1, y down), shapes the default CNN reads reliably.
Stroke = list[tuple[float, float]]


def _line(a: tuple[float, float], b: tuple[float, float], n: int) -> Stroke:
    return [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(n + 1)]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int) -> Stroke:
    """Points on an ellipse; angle 0 is the top, growing clockwise."""
    return [
        (cx + rx * math.sin(a), cy - ry * math.cos(a))
        for a in (start + (end - start) * i / n for i in range(n + 1))
    ]


def stroke(digit: str) -> Stroke:
    if digit == "1":
        return _line((0.5, 0.15), (0.52, 0.85), 20)
    if digit == "7":
        return _line((0.25, 0.18), (0.75, 0.18), 10) + _line((0.75, 0.18), (0.45, 0.85), 15)[1:]
    if digit == "0":
        return _arc(0.5, 0.5, 0.2, 0.33, 0, 2 * math.pi, 32)
    if digit == "2":
        top = [
            (0.5 - 0.22 * math.cos(a), 0.35 - 0.17 * math.sin(a))
            for a in (math.pi * 1.1 * i / 13 for i in range(14))
        ]
        return top + _line(top[-1], (0.27, 0.82), 9)[1:] + _line((0.27, 0.82), (0.75, 0.82), 7)[1:]
    if digit == "6":
        return _line((0.62, 0.15), (0.37, 0.6), 9) + _arc(
            0.5, 0.66, 0.18, 0.16, -math.pi / 2, 1.5 * math.pi, 20
        )
    if digit == "9":
        loop = _arc(0.5, 0.33, -0.18, 0.16, -math.pi / 2, 1.5 * math.pi, 20)
        return loop + _line((0.68, 0.33), (0.63, 0.85), 12)
    raise KeyError(digit)


def draw_digit(page: Page, digit: str) -> None:
    """Mouse down, one move per point of the digit's stroke, mouse up."""
    canvas = page.locator(CANVAS)
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke(digit)]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


# Installed before each stroke: the time of the next pointer-up (the mouse button's release),
# of the first frame after an answer appears and of the first frame after the probability bars
# are drawn (the previous answer was cleared, so any answer element is the new one).
CLOCK_JS = """([answer, bars]) => {
    const clock = {up: null, sent: null, shown: null, bars: null, text: null};
    window.__deployClock = clock;
    window.addEventListener('pointerup', () => { clock.up = performance.now(); },
                            {capture: true, once: true});
    const frame = (name) => requestAnimationFrame(() => { clock[name] = performance.now(); });
    const seen = () => {
        if (clock.up === null) return;
        const el = document.querySelector(answer);
        if (el && clock.text === null) {
            clock.text = el.innerText.trim();
            frame('shown');
        }
        if (clock.bars === null && document.querySelector(bars)) {
            clock.bars = -1;
            frame('bars');
        }
        if (clock.text !== null && clock.bars !== null) observer.disconnect();
    };
    const observer = new MutationObserver(seen);
    observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""
BARS = "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg"

# Counts the server's messages that redraw the sidebar (its "Latest model" line): a page-wide
# rerun sends one, a rerun of the drawing fragment none. Also notes when the page first sends
# to the server after a stroke ends: the canvas' own share of the wait (its debounce).
SIDEBAR_JS = """
window.__sidebarMessages = 0;
const PlainWebSocket = window.WebSocket;
const plainSend = PlainWebSocket.prototype.send;
PlainWebSocket.prototype.send = function (...args) {
    const clock = window.__deployClock;
    if (clock && clock.up !== null && clock.sent === null) clock.sent = performance.now();
    return plainSend.apply(this, args);
};
window.WebSocket = function (...args) {
    const ws = new PlainWebSocket(...args);
    ws.addEventListener('message', async (event) => {
        const data = event.data instanceof Blob ? await event.data.arrayBuffer() : event.data;
        const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
        if (text.includes('Latest model')) window.__sidebarMessages += 1;
    });
    return ws;
};
window.WebSocket.prototype = PlainWebSocket.prototype;
Object.assign(window.WebSocket, PlainWebSocket);
"""


def open_deploy(page: Page, app_url: str) -> None:
    """The Deploy page, opened as a returning visitor would (a fresh server's very first visit
    by deep link is test_navigation's concern)."""
    goto(page, app_url)
    goto(page, f"{app_url}/Deploy")
    assert_no_exception(page)
    page.get_by_text("Draw a digit").first.wait_for(state="visible")


def toolbar_button(page: Page, name: str):
    """A button of the canvas' toolbar (it shows while the pointer is over the canvas)."""
    page.locator(CANVAS).hover()
    return page.locator(COMPONENT).get_by_role("button", name=name, exact=True)


def clear_canvas(page: Page) -> None:
    """The toolbar's reset: it sends an empty canvas at once, and the answer goes."""
    toolbar_button(page, "Reset canvas & history").click()
    page.locator(ANSWER).wait_for(state="detached")
    wait_for_app(page)


def timed_answer(page: Page, digit: str) -> tuple[float, float, float, str]:
    """Draw `digit`; ms from mouse-up to the answer on screen, to the bars drawn and to the
    canvas sending the drawing, and the answer's text."""
    page.evaluate(CLOCK_JS, [ANSWER, BARS])
    draw_digit(page, digit)
    page.wait_for_function(
        "() => window.__deployClock.shown !== null && window.__deployClock.bars > 0", timeout=30_000
    )
    clock = page.evaluate("() => window.__deployClock")
    up = clock["up"]
    return clock["shown"] - up, clock["bars"] - up, clock["sent"] - up, clock["text"]


@pytest.fixture(scope="module")
def cnn_run(studio_home):
    """The quick demo model (the default CNN preset, fewer epochs) on the offline sample."""
    run = train_to_run(quick_config(), "sample", home=studio_home)
    assert run is not None
    return run


def sidebar_messages(page: Page) -> int:
    return page.evaluate("() => window.__sidebarMessages")


def test_answers_follow_each_stroke_quickly_and_correctly(page, app_url, cnn_run):
    page.add_init_script(SIDEBAR_JS)
    open_deploy(page, app_url)
    assert sidebar_messages(page) > 0  # the page itself drew the sidebar
    draw_digit(page, "1")  # warm-up: the first answer loads the model and fills the caches
    page.locator(ANSWER).wait_for(state="visible")
    wait_for_app(page)
    clear_canvas(page)
    page.evaluate("() => { window.__sidebarMessages = 0; }")

    times, bars, sent, answers = [], [], [], []
    for digit in DIGITS:
        ms, bars_ms, sent_ms, text = timed_answer(page, digit)
        times.append(ms)
        bars.append(bars_ms)
        sent.append(sent_ms)
        answers.append(text)
        wait_for_app(page)
        assert_no_exception(page)
        clear_canvas(page)
    print(
        f"\nDeploy, stroke end → answer on screen over {len(times)} drawn digits: "
        f"median {statistics.median(times):.0f} ms (target ≤ {TARGET_MS} ms), "
        f"min {min(times):.0f}, max {max(times):.0f}; all: {', '.join(f'{t:.0f}' for t in times)}"
    )
    print(
        f"Deploy, stroke end → probability bars drawn: median {statistics.median(bars):.0f} ms, "
        f"max {max(bars):.0f}"
    )
    print(
        f"Of which the canvas, stroke end → drawing sent: median {statistics.median(sent):.0f} ms; "
        f"sent → answer on screen: median {statistics.median(t - s for t, s in zip(times, sent)):.0f} ms"
    )
    said = [re.sub(r"\?$", "", a) for a in answers]
    assert said == list(DIGITS), f"drew {DIGITS}, the model said {answers}"
    assert sidebar_messages(page) == 0, "a stroke reran the whole page, not only the drawing"
