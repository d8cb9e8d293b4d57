"""The app under load (issue 25, "Measured"): with two trainings running, how long six browser
sessions at once wait for Train, Evaluate and Deploy to be drawn. Target: p95 <= 2 s.

Starts `streamlit run app.py` on a free loopback port with an empty studio home and a local
Dask cluster of two single-threaded workers (MNIST_STUDIO_WORKERS=2, MNIST_STUDIO_THREADS=1),
drives Debian's chromium through Playwright as the browser tests do, and:

1. trains the quick model from Deploy's button, so Evaluate and Deploy have a run to show;
2. starts two long trainings (500 epochs, batch 64) from two sessions of their own on Train,
   and waits until both run;
3. opens six more sessions at once; each loads Train by its address, then goes Evaluate →
   Deploy → Train by the sidebar, `ROUNDS` times.

A page counts as drawn when its title heading (the h1 in the main area) names it and
Streamlit's script run is over (the app root's `data-test-script-state` is "notRunning" and
no "Running…" status shows); the time runs from the navigation (the address opened or the
sidebar link clicked) to then, polled every animation frame. Printed, never asserted, with the
load average; skipped with a line when chromium is not installed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.e2e.conftest import CHROMIUM_ARGS, run_server

TARGET_S = 2.0
SESSIONS = 6
ROUNDS = 3
PAGES = ("Evaluate", "Deploy", "Train")
SLOW_MS = 600_000
VIEWPORT = {"width": 1400, "height": 1000}
DRAWN = """([title]) => {
    const root = document.querySelector("[data-testid='stApp']");
    const status = document.querySelector("[data-testid='stStatusWidget']");
    const heads = [...document.querySelectorAll("[data-testid='stMain'] h1")];
    return root && root.getAttribute('data-test-script-state') === 'notRunning'
        && !(status && /running/i.test(status.innerText || ''))
        && heads.some(h => h.offsetParent !== null && h.innerText.includes(title));
}"""


async def drawn(page, title: str) -> None:
    await page.wait_for_function(DRAWN, arg=[title], polling="raf", timeout=SLOW_MS)


async def settle(page) -> None:
    """Drawn twice, 0.4 s apart (a rerun may start a moment after one ends)."""
    for _ in range(2):
        await page.wait_for_function(DRAWN, arg=[""], polling="raf", timeout=SLOW_MS)
        await page.wait_for_timeout(400)


async def set_slider(page, label: str, value: int) -> None:
    """Move a slider with the keyboard, as tests/e2e/test_train_browser.py does."""
    thumb = page.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider")

    async def shown() -> float:
        return float(
            await thumb.get_attribute("aria-valuetext") or await thumb.get_attribute("aria-valuenow")
        )

    for _ in range(3):
        await thumb.focus()
        for _ in range(100):
            current = await shown()
            if current == value:
                break
            await thumb.press("ArrowRight" if current < value else "ArrowLeft")
            await page.wait_for_timeout(50)
        await settle(page)
        if await shown() == value:
            return
    raise RuntimeError(f"the {label} slider would not go to {value}")


async def start_training(browser, url: str):
    """A session of its own that starts a long training and waits until it runs."""
    page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    await page.goto(f"{url}/Train", wait_until="domcontentloaded")
    await settle(page)
    await set_slider(page, "Epochs", 500)
    await set_slider(page, "Batch size", 64)
    await page.get_by_role("button", name="▶ Start training").click()
    bar = page.locator("[data-testid='stProgress']")
    await bar.filter(has_text="epoch").wait_for(timeout=SLOW_MS)
    return page


async def visitor(browser, url: str) -> list[tuple[str, str, float]]:
    """One session: Train by its address, then the sidebar round; (page, how, seconds) each."""
    page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    times = []
    t = time.perf_counter()
    await page.goto(f"{url}/Train", wait_until="commit")
    await drawn(page, "Train")
    times.append(("Train", "address", time.perf_counter() - t))
    for _ in range(ROUNDS):
        for title in PAGES:
            link = page.locator(f"[data-testid='stSidebarNav'] a[href$='/{title}']")
            t = time.perf_counter()
            await link.click()
            await drawn(page, title)
            times.append((title, "sidebar", time.perf_counter() - t))
    await page.context.close()
    return times


def line(what: str, seconds: list[float]) -> str:
    s = np.array(seconds)
    return (
        f"{what}: {len(s)} loads, median {np.median(s):.2f} s, p95 {np.percentile(s, 95):.2f} s, "
        f"max {s.max():.2f} s"
    )


async def measure(browser, url: str) -> None:
    quick = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    await quick.goto(f"{url}/Deploy", wait_until="domcontentloaded")
    await quick.get_by_role("button", name="⚡ Train a quick model").first.click()
    await quick.locator("canvas.upper-canvas").wait_for(timeout=SLOW_MS)  # a model exists
    await quick.context.close()
    trainers = [await start_training(browser, url) for _ in range(2)]
    load_before = os.getloadavg()
    t = time.perf_counter()
    results = await asyncio.gather(*(visitor(browser, url) for _ in range(SESSIONS)))
    wall = time.perf_counter() - t
    load_after = os.getloadavg()
    still = [await p.get_by_role("button", name="■ Stop", exact=True).is_enabled() for p in trainers]
    times = [x for r in results for x in r]
    every = [s for _, _, s in times]
    print(
        f"{SESSIONS} sessions at once, {len(every)} page loads in {wall:.0f} s, with "
        f"{sum(still)} of 2 trainings still running at the end"
    )
    print(line(f"all pages, p95 target <= {TARGET_S:g} s", every))
    for title in ("Train", "Evaluate", "Deploy"):
        by_sidebar = [s for p, how, s in times if p == title and how == "sidebar"]
        print("  " + line(f"{title} by the sidebar", by_sidebar))
    by_address = [s for _, how, s in times if how == "address"]
    print("  " + line("Train by its address (a new session)", by_address))
    print(
        "load average (1, 5, 15 min) before "
        + ", ".join(f"{x:.1f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.1f}" for x in load_after)
        + f"; {os.cpu_count()} CPUs"
    )
    for page in trainers:
        await page.context.close()


async def _run(chromium: str, url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            await measure(browser, url)
        finally:
            await browser.close()


def run() -> None:
    print(f"\n## The app under load: {SESSIONS} sessions draw Train, Evaluate, Deploy while 2 trainings run")
    chromium = shutil.which("chromium")
    if chromium is None:
        print("skipped: chromium is not installed (bash scripts/install_browser.sh)")
        return
    env = {"MNIST_STUDIO_WORKERS": "2", "MNIST_STUDIO_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        home, cache, log = Path(tmp) / "studio", Path(tmp) / "cache", Path(tmp) / "log"
        with run_server(home, cache, log, env) as url:
            asyncio.run(_run(chromium, url))
