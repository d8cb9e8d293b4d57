"""AppTest of the Evaluate page: verdict against the target, confusion cell → images, the mistakes,
two runs compared, the locked test set and its look counter, missing data, no runs at all.

Runs are trained once per module into a module home; every test points $MNIST_STUDIO_HOME at
it (the autouse fixture would give it an empty one). Tests that change a run work on a copy.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.config import TrainConfig
from mnist_core.data.sources import Images, SourceInfo
from mnist_core.evaluation import judge
from mnist_core.evaluation.evaluate import evaluate
from mnist_core.runs import storage
from mnist_core.runs.evaluations import save_evaluation
from mnist_core.runs.listing import scan_runs
from tests.app.conftest import open_page as open_app_page
from tests.helpers import train_to_run
from ui import state as keys

ROOT = Path(__file__).resolve().parents[2]
PAGE = "pages/Evaluate.py"
CELL_LIMIT = 16  # images of the selected cell beside the matrix (two rows fit a 1280×720 screen)


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "success", "warning", "info", "error")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def image_count(at: AppTest) -> list[int]:
    return [len(el.proto.imgs) for el in at.get("image")]


@pytest.fixture(scope="module")
def module_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("evaluate-home")
    train_to_run(TrainConfig(model="logreg", epochs=1, augment=False), "sample", name="first", home=home)
    train_to_run(TrainConfig(model="logreg", epochs=2, augment=False), "sample", name="second", home=home)
    return home


@pytest.fixture
def home(module_home, monkeypatch) -> Path:
    monkeypatch.setenv("MNIST_STUDIO_HOME", str(module_home))
    return module_home


@pytest.fixture
def fresh_run(home):
    """Makes copies of the run "second" as the newest run (the page opens on it); removes them after."""
    made: list[Path] = []

    def make(**meta) -> storage.Run:
        src = next(r for r in scan_runs(home).runs if r.meta.get("name") == "second")
        path = src.path.parent / f"zz-copy-{uuid.uuid4().hex[:8]}"
        shutil.copytree(src.path, path)
        made.append(path)
        return storage.update_meta(
            storage.load_run(path), created="9999-12-31T00:00:00+00:00", name=path.name, **meta
        )

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def open_page(**state) -> AppTest:
    return open_app_page(PAGE, **state)


def test_no_runs_points_to_train_page(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_HOME", str(tmp_path / "empty"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(PAGE).run()  # inside the app, so the link to the Train page resolves
    assert not at.exception
    assert "no trained model to evaluate" in texts(at)
    links = at.get("page_link")
    assert links and "Train" in links[0].proto.page
    assert not at.metric and not at.button


def test_validation_metrics_against_target(home):
    at = open_page()
    assert not at.exception
    run = scan_runs(home).runs[0]
    assert at.selectbox(key=keys.EVALUATE_RUN).value == run.id  # the latest by default
    val = run.evaluation("val")
    shown = metrics(at)
    assert shown["Validation accuracy"] == f"{val.accuracy:.2%}"
    assert shown["Validation loss"] == f"{val.loss:.3f}"
    assert shown["Random guessing"] == "10%"
    # The default target (98 %) is out of reach of a one-epoch logistic regression on 3,400 images.
    assert at.error and at.error[0].value.startswith("Below the target")
    assert "Weakest digits:" in texts(at)
    assert len(at.get("vega_lite_chart")) >= 2  # heatmap and per-class bars
    # A target it does meet reads as a pass.
    at = open_page(**{keys.APP_TARGET_ACCURACY: 0.5})
    assert at.success and at.success[0].value.startswith("Meets the target")
    assert "50.0%" in at.success[0].value


def test_cell_selection_shows_its_images(home):
    at = open_page()
    run = scan_runs(home).runs[0]
    val = run.evaluation("val")
    # Default: the most frequent mistake.
    t, p, count = judge.top_confusions(val, 1)[0]
    assert (at.selectbox(key=keys.EVALUATE_CM_TRUE).value, at.selectbox(key=keys.EVALUATE_CM_PRED).value) == (
        t,
        p,
    )
    assert f"**{count:,} images of {t} mistaken for {p}**" in texts(at)
    assert image_count(at)[0] == min(count, CELL_LIMIT)
    # Another mistake cell, picked with the fallback selectboxes.
    t2, p2, count2 = judge.top_confusions(val, 3)[-1]
    at.selectbox(key=keys.EVALUATE_CM_TRUE).set_value(t2)
    at.selectbox(key=keys.EVALUATE_CM_PRED).set_value(p2).run()
    assert not at.exception
    assert f"**{count2:,} images of {t2} mistaken for {p2}**" in texts(at)
    assert image_count(at)[0] == min(count2, CELL_LIMIT)
    assert all(": " in img.caption for img in at.get("image")[0].proto.imgs)  # probabilities shown
    # A diagonal cell holds the correct answers.
    at.selectbox(key=keys.EVALUATE_CM_TRUE).set_value(4)
    at.selectbox(key=keys.EVALUATE_CM_PRED).set_value(4).run()
    right = val.confusion[4][4]
    assert f"**{right:,} images of 4 correctly recognised**" in texts(at)
    assert image_count(at)[0] == min(right, CELL_LIMIT)
    # An empty cell says so instead of showing nothing.
    empty = next((a, b) for a in range(10) for b in range(10) if val.confusion[a][b] == 0)
    at.selectbox(key=keys.EVALUATE_CM_TRUE).set_value(empty[0])
    at.selectbox(key=keys.EVALUATE_CM_PRED).set_value(empty[1]).run()
    assert "nothing to show" in texts(at)


def heatmap_cells(at: AppTest):
    """The data behind the confusion heatmap (Streamlit ships it as Arrow)."""
    data = at.get("vega_lite_chart")[0].proto.datasets[0].data.data
    return pa.ipc.open_stream(data).read_pandas().set_index(["true", "predicted"])


def test_row_percentages_toggle(home):
    at = open_page()
    val = scan_runs(home).runs[0].evaluation("val")
    cells = heatmap_cells(at)
    assert cells.loc[(0, 0), "text"] == str(val.confusion[0][0])
    at.toggle(key=keys.EVALUATE_CM_NORM).set_value(True).run()
    assert not at.exception
    cells = heatmap_cells(at)
    assert cells.loc[(0, 0), "text"] == f"{val.confusion[0][0] / sum(val.confusion[0]):.0%}"
    # the selected cell (the most frequent mistake) is outlined
    t, p, _ = judge.top_confusions(val, 1)[0]
    assert cells["selected"].sum() == 1 and cells.loc[(t, p), "selected"]


def test_confident_mistakes_gallery(home):
    at = open_page()
    run = scan_runs(home).runs[0]
    wrong = sum(run.evaluation("val").confusion[d][e] for d in range(10) for e in range(10) if d != e)
    assert image_count(at)[1] == min(12, wrong)
    at.select_slider(key=keys.EVALUATE_MISTAKES).set_value(24).run()
    assert image_count(at)[1] == min(24, wrong)
    captions = [img.caption for img in at.get("image")[1].proto.imgs]
    confidences = [int(c.rsplit("(", 1)[1].rstrip("%)")) for c in captions]
    assert confidences == sorted(confidences, reverse=True)  # most confident first


def test_compare_two_runs(home):
    at = open_page()
    runs = scan_runs(home).runs
    at.selectbox(key=keys.EVALUATE_OTHER).set_value(runs[1].id).run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Accuracy (second run)"] == f"{runs[1].evaluation('val').accuracy:.2%}"
    assert shown["Accuracy (this run)"] == f"{runs[0].evaluation('val').accuracy:.2%}"
    assert len(at.get("vega_lite_chart")) >= 3  # the F1 delta chart joined
    assert "different images" not in texts(at)  # same data, fraction and seed


def test_test_set_locked_then_counted(fresh_run):
    run = fresh_run()
    at = open_page()
    assert at.selectbox(key=keys.EVALUATE_RUN).value == run.id
    assert "Test accuracy" not in metrics(at)
    assert "test set is locked" in texts(at)
    assert [b.key for b in at.button] == [keys.EVALUATE_TEST_UNLOCK]
    assert len(at.table) == 1  # the roles of train / validation / test

    at.button(key=keys.EVALUATE_TEST_UNLOCK).click().run()
    assert not at.exception
    saved = storage.load_run(run.path)
    assert saved.meta["test_evaluations"] == 1
    test = saved.evaluation("test")
    assert metrics(at)["Test accuracy"] == f"{test.accuracy:.2%}"
    assert "Test set used 1 time" in texts(at)
    assert not at.warning

    at.button(key=keys.EVALUATE_TEST_AGAIN).click().run()
    assert not at.exception
    assert storage.load_run(run.path).meta["test_evaluations"] == 2
    assert at.warning and "looked at **2 times**" in at.warning[0].value
    assert "no longer an unbiased estimate" in at.warning[0].value

    # Just looking at the page again does not count as another look.
    at.run()
    assert storage.load_run(run.path).meta["test_evaluations"] == 2


def test_missing_data_keeps_saved_metrics(fresh_run, monkeypatch, tmp_path):
    """A run trained on full MNIST, opened where MNIST is not downloaded: messages, no crash."""
    monkeypatch.setenv("MNIST_STUDIO_CACHE", str(tmp_path / "no-cache"))
    run = fresh_run(data="mnist", data_name="Full MNIST (70,000 images)")
    at = open_page()
    assert not at.exception
    assert at.selectbox(key=keys.EVALUATE_RUN).value == run.id
    assert any("not downloaded" in w.value for w in at.warning)
    assert metrics(at)["Validation accuracy"] == f"{run.evaluation('val').accuracy:.2%}"
    assert not at.get("image")
    at.button(key=keys.EVALUATE_TEST_UNLOCK).click().run()
    assert not at.exception
    assert at.error and "test evaluation failed" in at.error[-1].value
    assert storage.load_run(run.path).meta["test_evaluations"] == 0  # nothing was looked at


def test_deleted_selection_falls_back_to_latest(home, fresh_run):
    run = fresh_run()
    at = open_page()
    assert at.selectbox(key=keys.EVALUATE_RUN).value == run.id
    storage.delete_run(run)
    at.run()
    assert not at.exception
    assert at.selectbox(key=keys.EVALUATE_RUN).value == scan_runs(home).runs[0].id


def test_leaving_and_coming_back(home):
    """Widget values are dropped on a page switch; the page must rebuild them, not crash."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(PAGE).run()
    at.selectbox(key=keys.EVALUATE_CM_TRUE).set_value(4)
    at.selectbox(key=keys.EVALUATE_CM_PRED).set_value(4).run()
    at.switch_page("pages/home.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    val = scan_runs(home).runs[0].evaluation("val")
    t, p, _ = judge.top_confusions(val, 1)[0]
    assert (at.selectbox(key=keys.EVALUATE_CM_TRUE).value, at.selectbox(key=keys.EVALUATE_CM_PRED).value) == (
        t,
        p,
    )


def test_report_download_is_offered(home):
    at = open_page()
    buttons = at.get("download_button")
    assert len(buttons) == 1 and "Download report" in buttons[0].proto.label


def test_evaluation_on_other_data_is_not_the_test_accuracy(fresh_run):
    """An evaluation on another folder is shown as such, never as the run's test accuracy."""
    run = fresh_run()
    data = run.split().val
    few = Images(data.images[:5], (data.labels[:5] + 1) % 10)  # 5 mislabelled images
    other = SourceInfo("/data/elsewhere", "folder", "Folder /data/elsewhere")
    result = evaluate(run.load_model(), few, "test")
    save_evaluation(run, result, data=few, source=other)
    at = open_page()
    assert not at.exception
    assert "Test accuracy" not in metrics(at)  # the run's own test set is still locked
    assert "test set is locked" in texts(at)
    line = f"Test evaluation on folder /data/elsewhere, 5 images: {result.accuracy:.2%} accuracy"
    assert line in texts(at)
    assert storage.load_run(run.path).meta["test_evaluations"] == 0


def test_missing_validation_result_is_computed_and_saved(fresh_run):
    run = fresh_run()
    saved = run.evaluation("val")
    (run.path / "eval_val.json").unlink()
    at = open_page()
    assert not at.exception
    again = storage.load_run(run.path).evaluation("val")
    assert again is not None and again.confusion == saved.confusion
    assert metrics(at)["Validation accuracy"] == f"{again.accuracy:.2%}"
