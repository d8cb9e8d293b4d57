"""The drift monitor (issue 24): the MMD test's level and power, canvas rendering, traits, windows,
field loading and its bad input, and the `monitor` command's JSON."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.monitor import thick_and_tilted
from mnist_core.cli.main import main
from mnist_core.data.sources import load_test
from mnist_core.deploy.collect import DrawingStore
from mnist_core.monitoring.canvas_render import CANVAS_SIDE, as_drawn, prepare_as_drawn
from mnist_core.monitoring.errors import MonitorError
from mnist_core.monitoring.features import KEYS, digit_traits, slant_degrees, stroke_thickness
from mnist_core.monitoring.field import field_from_prepared, load_drawings, load_folder
from mnist_core.monitoring.mmd import mmd_test
from mnist_core.monitoring.monitor import monitor, reference_from_digits
from mnist_core.monitoring.windows import parse_window, split_windows, window_results
from tests.tiny_model import tiny_run

PERMS = 200


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(run):
    val = run.split().val
    return reference_from_digits(val.images[:300].numpy(), val.labels[:300].numpy())


@pytest.fixture(scope="module")
def held_out():
    test = load_test("sample")
    pick = np.random.default_rng(0).choice(len(test), 120, replace=False)
    return test.images.numpy()[pick], test.labels.numpy()[pick]


# ---------------------------------------------------------------- the two-sample test


def test_mmd_rejects_a_shift_and_not_a_same_distribution_draw():
    rng = np.random.default_rng(0)
    same = mmd_test(rng.normal(size=(80, 16)), rng.normal(size=(150, 16)), permutations=PERMS, seed=1)
    moved = mmd_test(rng.normal(size=(80, 16)) + 0.5, rng.normal(size=(150, 16)), permutations=PERMS, seed=1)
    assert same.p_value > 0.05 and moved.p_value < 0.01
    assert moved.statistic > same.statistic and (same.n_x, same.n_y) == (80, 150)
    assert moved.p_value >= 1 / (PERMS + 1)  # a permutation p-value is never 0


def test_mmd_level_is_about_alpha_without_a_shift():
    rng = np.random.default_rng(3)
    ps = [
        mmd_test(rng.normal(size=(20, 4)), rng.normal(size=(30, 4)), permutations=99, seed=s).p_value
        for s in range(60)
    ]
    assert np.mean(np.array(ps) < 0.05) <= 0.15
    assert 0.3 < np.mean(ps) < 0.7  # roughly uniform


def test_mmd_refuses_a_single_point():
    with pytest.raises(ValueError, match="two points"):
        mmd_test(np.zeros((1, 3)), np.zeros((5, 3)))


# ---------------------------------------------------------------- canvas rendering and traits


def test_a_digit_drawn_on_the_canvas_comes_back_like_itself(held_out):
    digit = held_out[0][0]
    canvas = as_drawn(digit)
    assert canvas.shape == (CANVAS_SIDE, CANVAS_SIDE, 4) and canvas[..., :3].max() == 0
    assert canvas[..., 3].max() == 255  # opaque pen ink in the alpha channel, like the Deploy canvas
    prepared = prepare_as_drawn(digit)
    assert not prepared.is_blank
    assert np.abs(prepared.image - digit / 255.0).mean() < 0.08


def test_traits_of_a_bar():
    bar = np.zeros((28, 28), np.float64)
    bar[4:24, 12:16] = 1.0
    assert stroke_thickness(bar) == pytest.approx(4.0, rel=0.25)
    assert slant_degrees(bar) == pytest.approx(0.0, abs=1e-6)
    turned = np.asarray(Image.fromarray((bar * 255).astype(np.uint8)).rotate(-20, Image.Resampling.BILINEAR))
    assert slant_degrees(turned / 255.0) == pytest.approx(20, abs=3)  # top leaning right: positive
    corner = np.zeros((280, 280), np.uint8)
    corner[10:60, 20:40] = 255
    size, x, y = digit_traits(bar, corner)[[KEYS.index("size"), KEYS.index("x"), KEYS.index("y")]]
    assert size == pytest.approx(100 * 50 / 280) and x < -30 and y < -30
    assert math.isnan(digit_traits(bar)[KEYS.index("size")])  # no canvas: unknown, not made up


# ---------------------------------------------------------------- the whole report


def test_monitor_flags_thick_tilted_digits_and_not_mnist(run, reference, held_out):
    digits, labels = held_out
    model = run.load_model("cpu")
    same = field_from_prepared([prepare_as_drawn(d) for d in digits], labels)
    rng = np.random.default_rng(0)
    shifted = field_from_prepared([thick_and_tilted(d, rng.uniform(30, 40)) for d in digits], labels)
    kw = {"reference": reference, "model": model, "permutations": PERMS, "window": 60}
    calm, alarmed = monitor(run, same, **kw), monitor(run, shifted, **kw)
    assert not calm.drift and calm.test.p_value > 0.05
    assert alarmed.drift and alarmed.test.p_value < 0.01
    assert alarmed.traits["thickness"].differs and alarmed.traits["thickness"].smd > 0.5
    assert not calm.traits["thickness"].differs
    assert [w.n for w in alarmed.windows] == [60, 60] and all(w.alarm for w in alarmed.windows)
    assert not any(w.alarm for w in calm.windows) and calm.drift_since is None
    assert alarmed.drift_since == "1-60" and alarmed.summary()[0].startswith("The field differs")
    assert alarmed.class_mix.basis == "labels" and calm.field_accuracy > alarmed.field_accuracy
    assert len(alarmed.outliers) > 0 and alarmed.outliers[0].score >= alarmed.outliers[-1].score
    json.dumps(alarmed.to_json(), allow_nan=False)  # strict JSON, ready for a page


# ---------------------------------------------------------------- windows


def test_windows_split_as_documented():
    assert [(w.start, w.stop) for w in split_windows(250, 100)] == [(0, 100), (100, 200), (200, 250)]
    assert [(w.start, w.stop) for w in split_windows(230, 100)] == [(0, 100), (100, 230)]
    assert [(w.start, w.stop, w.label) for w in split_windows(40, 100)] == [(0, 40, "1-40")]
    dates = [
        "2026-01-01T10:00",
        "2026-01-01T11:00",
        "2026-01-03T09:00",
        "2026-01-04T09:00",
        "2026-01-04T12:00",
    ]
    by_day = split_windows(5, "day", dates)
    assert [(w.start, w.stop, w.label) for w in by_day] == [
        (0, 2, "2026-01-01"),
        (2, 3, "2026-01-03"),
        (3, 5, "2026-01-04"),
    ]
    with pytest.raises(MonitorError, match="no dates"):
        split_windows(5, "day", None)
    with pytest.raises(MonitorError, match="larger window"):
        split_windows(1000, 5)
    many_days = [f"2026-{m:02d}-{d:02d}T00:00" for m in range(1, 6) for d in range(1, 29)]
    with pytest.raises(MonitorError, match="140 days"):
        split_windows(len(many_days), "day", many_days)
    assert parse_window("day") == "day" and parse_window("25") == 25
    for bad in ("week", "1", "-3"):
        with pytest.raises(MonitorError):
            parse_window(bad)


def test_only_the_shifted_window_raises_the_alarm():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(200, 8))
    feats = np.concatenate(
        [rng.normal(size=(50, 8)), rng.normal(size=(50, 8)) + 1.0, rng.normal(size=(1, 8))]
    )
    probs = np.full((101, 10), 0.05)
    probs[:, 3] = 0.55
    labels = np.r_[np.full(50, 3), np.full(50, -1), [4]]
    windows = split_windows(101, "day", ["2026-01-01"] * 50 + ["2026-01-02"] * 50 + ["2026-01-03"])
    out = window_results(windows, feats, ref, probs, labels, alpha=0.05, permutations=PERMS)
    assert [w.alarm for w in out] == [False, True, False]
    assert out[0].accuracy == 1.0 and out[1].accuracy is None and out[2].accuracy == 0.0
    assert out[2].p_value is None and out[1].labelled == 0 and out[0].mean_confidence == pytest.approx(0.55)


# ---------------------------------------------------------------- field input


def _png(digit: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(as_drawn(digit)).save(buf, "PNG")
    return buf.getvalue()


def _folder(path: Path, digits: np.ndarray, labels: dict | None = None) -> Path:
    path.mkdir()
    for i, d in enumerate(digits):
        (path / f"d{i:03d}.png").write_bytes(_png(d))
    if labels is not None:
        (path / "labels.json").write_text(json.dumps(labels))
    return path


def test_folder_with_labels_and_a_blank_image(tmp_path, held_out):
    folder = _folder(tmp_path / "f", held_out[0][:3], {"d001.png": 4})
    Image.new("L", (50, 50), 255).save(folder / "empty.png")
    fs = load_folder(folder)
    assert fs.names == ["d000.png", "d001.png", "d002.png"] and fs.skipped == ["empty.png"]
    assert fs.labels.tolist() == [-1, 4, -1] and fs.images.shape == (3, 28, 28)
    assert np.isfinite(fs.traits).all()  # a folder image has its canvas: size and position known


def _bad_cases(tmp_path: Path, digits: np.ndarray) -> list[tuple[str, Path, str]]:
    empty = tmp_path / "empty"
    empty.mkdir()
    one = _folder(tmp_path / "one", digits[:1])
    broken = _folder(tmp_path / "broken", digits[:3])
    (broken / "d001.png").write_bytes(b"this is not a picture")
    unknown = _folder(tmp_path / "unknown", digits[:3], {"d000.png": 1, "ghost.png": 2})
    wrong = _folder(tmp_path / "wrong", digits[:3], {"d000.png": 12})
    return [
        ("empty", empty, "no images"),
        ("one", one, "only one image"),
        ("broken", broken, "d001.png"),
        ("unknown", unknown, "ghost.png"),
        ("wrong", wrong, "digits 0 to 9"),
        ("missing", tmp_path / "nowhere", "not a folder"),
    ]


def test_bad_field_folders_are_one_line_exit_2_and_nothing_lost(run, tmp_path, held_out, capsys):
    for name, folder, words in _bad_cases(tmp_path, held_out[0]):
        before = {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else None
        code = main(["monitor", str(run.path), "--field", str(folder), "--permutations", "20"])
        out, err = capsys.readouterr()
        assert code == 2, (name, out, err)
        assert out == "" and err.startswith("error: ") and len(err.strip().splitlines()) == 1, (name, err)
        assert words in err, (name, err)
        after = {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else None
        assert after == before, name


def test_drawings_missing_or_only_one(run, isolated_home, capsys, held_out):
    code = main(["monitor", str(run.path)])
    out, err = capsys.readouterr()
    assert code == 2 and "No drawings have been collected yet" in err and out == ""
    assert not (isolated_home / "drawings.db").exists()  # reported, not created
    DrawingStore(isolated_home / "drawings.db").add(image28=held_out[0][0], true_label=int(held_out[1][0]))
    code = main(["monitor", str(run.path), "--window", "week"])
    out, err = capsys.readouterr()
    assert code == 2 and "'day'" in err
    with pytest.raises(MonitorError, match="only one image"):
        load_drawings(isolated_home / "drawings.db")


# ---------------------------------------------------------------- the command's JSON


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_cli_json_contract_on_a_labelled_folder(run, tmp_path, held_out, capsys):
    digits, labels = held_out
    names = {f"d{i:03d}.png": int(labels[i]) for i in range(30)}
    folder = _folder(tmp_path / "field", digits[:30], names)
    code = main(["monitor", str(run.path), "--field", str(folder), "--window", "15", "--permutations", "100"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = _last_json(out)
    assert {
        "drift",
        "p_value",
        "n_field",
        "n_reference",
        "field_accuracy",
        "features",
        "class_mix",
        "windows",
    } <= set(report)
    assert isinstance(report["drift"], bool) and 0 < report["p_value"] <= 1
    assert report["n_field"] == 30 and report["n_reference"] == len(run.split().val)
    assert 0 <= report["field_accuracy"] <= 1 and report["class_mix"]["basis"] == "labels"
    assert sum(report["class_mix"]["field"]) == 30
    assert set(report["features"]) == set(KEYS)
    assert {"field", "training", "smd", "ks", "ks_p", "differs", "sentence"} <= set(
        report["features"]["slant"]
    )
    assert [w["n"] for w in report["windows"]] == [15, 15]
    assert "two-sample test" in err


def test_cli_on_collected_drawings_by_day(run, isolated_home, held_out, capsys):
    digits, labels = held_out
    store = DrawingStore(isolated_home / "drawings.db")
    for d, y in zip(digits[:12], labels[:12], strict=True):
        prepared = prepare_as_drawn(d)
        store.add(image28=prepared.image, true_label=int(y), original_png=_png(d), predicted=int(y))
    code = main(["monitor", str(run.path), "--window", "day", "--permutations", "50"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = _last_json(out)
    assert report["n_field"] == 12 and report["field_accuracy"] is not None
    assert len(report["windows"]) == 1 and report["windows"][0]["n"] == 12
    assert report["outliers"][0]["name"].startswith("#")
    assert store.count() == 12
