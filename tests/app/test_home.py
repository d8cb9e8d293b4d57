"""Home page: the six-step map with working links, and the current state of data, model, job, target."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

import ui
from mnist_core.config import TrainConfig
from mnist_core.runs import storage
from mnist_core.training.models import build_model
from ui import state as keys
from ui import warmup

REPO = Path(__file__).resolve().parents[2]


def home() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_home_shows_the_workflow_map_and_fresh_state():
    at = home()
    assert not at.exception
    assert at.title[0].value.endswith("MNIST Workflow Studio")
    cards = [m.value for m in at.markdown if m.value.startswith("##### Step ")]
    assert [c.split("· ")[1].split(" ", 1)[1] for c in cards] == [s.title for s in ui.STEPS]
    assert [s.title for s in ui.STEPS][:5] == ["Define the task", "Data", "Labels", "Preprocess", "Plan"]
    links = [link.value for link in at.page_link]
    for name in ("Define the task", "Data", "Preprocess"):
        assert f"Open {name}" in links
    shown = metrics(at)
    assert shown["Data source"] == "Offline sample"
    assert shown["Latest model"] == "none yet"
    assert shown["Background job"] == "idle"
    assert shown["Target accuracy"] == "98.0%"
    assert any("4,290 training-pool images · 710 test images" in c.value for c in at.caption)


def test_home_shows_the_latest_model_and_the_target_set_elsewhere():
    config = TrainConfig(model="baseline", epochs=1, augment=False)
    storage.save_run(build_model(config), config, [], {"name": "demo", "val_accuracy": 0.4321})
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30)
    at.session_state[keys.APP_TARGET_ACCURACY] = 0.9
    at.run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Latest model · validation accuracy"] == "43.2%"
    assert shown["Target accuracy"] == "90.0%"
    assert any("demo" in c.value and "1 saved run" in c.value for c in at.caption)
    assert any("demo" in m.value for m in at.sidebar.markdown)


# Run in a fresh interpreter: this test process imported torch long ago.
_HOME_WITHOUT_TORCH = """
import sys
from streamlit.testing.v1 import AppTest
import ui
ui.warm_up = lambda *modules: None  # the background warm-up would import torch on purpose
at = AppTest.from_file({app!r}, default_timeout=30).run()
assert not at.exception, at.exception
assert any("4,290 training-pool images" in c.value for c in at.caption)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "altair")))
"""


def test_home_renders_without_importing_torch(tmp_path):
    """Home is the first page a fresh server renders: importing torch alone takes a second."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO), "MNIST_STUDIO_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", _HOME_WITHOUT_TORCH.format(app=str(REPO / "app.py"))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_warm_up_imports_the_heavy_modules_once_in_the_background(monkeypatch):
    import threading

    imported, done = [], threading.Event()
    monkeypatch.setattr(warmup, "_warmed", set())
    monkeypatch.setattr(warmup.importlib, "import_module", lambda name: imported.append(name))
    monkeypatch.setattr(warmup, "WARM_MODULES", ("torch", "altair"))
    real = warmup._import_all
    monkeypatch.setattr(warmup, "_import_all", lambda modules: (real(modules), done.set()))
    ui.warm_up()
    ui.warm_up()
    assert done.wait(10)
    assert imported == ["torch", "altair"]
