"""AppTest of the Deploy page's Monitor tab: a friendly line without enough drawings; a field
collected over two days, normal then thick and tilted, checked in the background, shown as a
verdict, what differs, the drawings least like training, the windows over time and what to do."""

from __future__ import annotations

import pytest

import ui
from mnist_core.config import TrainConfig
from mnist_core.deploy.collect import DrawingStore
from mnist_core.monitoring import job as monitor_job
from mnist_core.monitoring.saved import load_result
from tests.app.conftest import open_page, texts, wait_idle
from tests.helpers import train_to_run
from tests.monitor_field import DAYS, collect_field
from ui import state as keys

PAGE, TAB, MONITOR = "pages/Deploy.py", keys.DEPLOY_TAB, "📡 Monitor"


@pytest.fixture
def run(monkeypatch):
    run = train_to_run(TrainConfig(model="logreg", epochs=2, augment=False), "sample")
    val = run.split().val
    small = (val.images[:300].numpy(), val.labels[:300].numpy())
    # the app picks the reference digits and a worker draws them: the real 1,000 take ~10 s
    monkeypatch.setattr(monitor_job, "reference_digits", lambda _run: small)
    return run


def monitor_tab():
    at = open_page(PAGE, **{TAB: MONITOR})
    assert "Is the field like the training data?" in texts(at)
    return at


def test_too_few_drawings_is_a_friendly_line(run):
    at = monitor_tab()
    assert "No drawings collected yet" in texts(at) and not at.exception
    DrawingStore(ui.drawings_path()).add(image28=run.split().val.images[0].numpy(), true_label=1)
    at.run()
    assert "Only one drawing collected yet" in texts(at) and not at.exception
    assert not [b for b in at.button if b.key == keys.DEPLOY_MONITOR_START]


def test_a_drifting_field_is_checked_in_the_background_and_shown(run):
    collect_field(ui.drawings_path())
    at = monitor_tab()
    assert "Not checked yet" in texts(at) and "40 drawings are waiting" in texts(at)
    assert at.selectbox(key=keys.DEPLOY_MONITOR_WINDOW).value == "day"
    at.button(key=keys.DEPLOY_MONITOR_START).click().run()
    assert not at.exception
    wait_idle()
    at.run()  # AppTest never fires the fragment's run_every: poll once the job is over
    assert not at.exception, at.exception
    shown = texts(at)
    assert load_result(run) is not None and "The check failed" not in shown
    assert "The field has drifted: p =" in " ".join(e.value for e in at.error)
    assert "Checked" in shown and "on 40 drawings, one window per day." in shown
    assert f"Alarm in: {DAYS[1]}." in shown  # the thick, tilted day, not the normal one
    assert "Leaning more to the right" in shown  # what differs, in words
    assert "Collect and label more drawings like these" in shown
    assert len(at.get("vega_lite_chart")) == 4  # traits, digit mix, confidence, windows
    gallery = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert gallery and all(c.startswith(("#", "⚠️ #")) for c in gallery)  # least like any training image
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Field drawings"] == "40" and metrics["Alarm since"] == DAYS[1]
    DrawingStore(ui.drawings_path()).add(image28=run.split().val.images[0].numpy(), true_label=1)
    at.run()
    assert "1 more collected since: check again." in texts(at)
