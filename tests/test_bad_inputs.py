"""Hostile and damaged inputs, table by table, each with the exact user-facing outcome.

IDX files (bombs, forged headers, truncation, wrong magic), run folders (malformed JSON of each
shape, bad weights, path-traversal ids), drawings databases, image files, path arguments, data
folders a visitor may name in a shared app; and every CLI subcommand run against every damaged
input it can take: exit status 2, one line, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import signal
import sqlite3
import subprocess
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from mnist_core.cli.main import build_parser, main
from mnist_core.config import TrainConfig
from mnist_core.data import access
from mnist_core.data.drawing import ImageError
from mnist_core.data.errors import DataError
from mnist_core.data.idx import read_idx
from mnist_core.deploy.collect import DrawingStore
from mnist_core.deploy.export import check_run_exportable
from mnist_core.deploy.predict import prepare_upload
from mnist_core.runs import storage
from mnist_core.runs.files import StorageError, dumps
from mnist_core.runs.listing import damaged_note, scan_runs
from mnist_core.training.models import build_model
from tests.fakes import fake_mnist, idx_bytes

SMALL = TrainConfig(model="mlp", mlp_width=16, mlp_depth=1)
SAMPLE_META = {
    "status": "finished",
    "data": "sample",
    "data_kind": "sample",
    "data_name": "Offline sample (5,000 real MNIST images)",
    "val_accuracy": 0.5,
}


def make_run(config: TrainConfig = SMALL, meta: dict | None = None, run_id: str | None = None):
    torch.manual_seed(0)
    return storage.save_run(
        build_model(config).eval(),
        config,
        [{"epoch": 1, "val_loss": 0.5}],
        dict(meta or SAMPLE_META),
        run_id=run_id,
    )


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def header(*shape: int, magic: bytes = b"\x00\x00\x08") -> bytes:
    return magic + bytes([len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)


# ================================================================ IDX files

IDX_CASES = [
    # (name, file name, bytes, ndim expected, words of the DataError)
    ("wrong magic", "x-idx3-ubyte", b"\x00\x00\x09\x03" + bytes(12), 3, "bad magic number"),
    ("empty file", "x-idx3-ubyte", b"", 3, "bad magic number"),
    ("text file", "x-idx3-ubyte", b"hello world, not IDX", 3, "bad magic number"),
    ("labels given as images", "x-idx3-ubyte", idx_bytes(np.zeros(5)), 3, "has 1 dimensions, expected 3"),
    ("truncated header", "x-idx3-ubyte", header(5, 28, 28)[:9], 3, "incomplete header"),
    (
        "more than a million images",
        "x-idx3-ubyte",
        header(1_000_001, 28, 28),
        3,
        "declares 1,000,001 entries; at most 1,000,000",
    ),
    ("more than a million labels", "x-idx1-ubyte", header(4_000_000_000), 1, "at most 1,000,000"),
    ("32x32 images", "x-idx3-ubyte", idx_bytes(np.zeros((2, 32, 32))), 3, "holds 32×32 images, not 28×28"),
    (
        "huge declared, tiny file",
        "x-idx3-ubyte",
        header(1_000_000, 28, 28) + bytes(10),
        3,
        "promises 784,000,000 bytes of data, the file holds 10",
    ),
    (
        "huge declared, tiny gz",
        "x-idx3-ubyte.gz",
        gzip.compress(header(1_000_000, 28, 28) + bytes(10)),
        3,
        "promises 784,000,000 bytes of data, the file holds 10",
    ),
    (
        "truncated data",
        "x-idx3-ubyte",
        idx_bytes(np.zeros((3, 28, 28)))[:-1],
        3,
        "promises 2,352 bytes of data, the file holds 2,351",
    ),
    (
        "truncated data, gz",
        "x-idx3-ubyte.gz",
        gzip.compress(idx_bytes(np.zeros((3, 28, 28)))[:-1]),
        3,
        "promises 2,352 bytes of data, the file holds 2,351",
    ),
    (
        "trailing data",
        "x-idx3-ubyte",
        idx_bytes(np.zeros((3, 28, 28))) + b"\x01",
        3,
        "promises 2,352 bytes of data, the file holds 2,353",
    ),
    (
        "trailing data, gz",
        "x-idx3-ubyte.gz",
        gzip.compress(idx_bytes(np.zeros((3, 28, 28))) + bytes(10**6)),
        3,
        "holds more data than its header declares (2,352 bytes)",
    ),
    (
        "cut gzip stream",
        "x-idx3-ubyte.gz",
        gzip.compress(idx_bytes(np.ones((300, 28, 28))))[:200],
        3,
        "could not be read",
    ),
    ("not gzip at all", "x-idx3-ubyte.gz", b"plain bytes named .gz", 3, "could not be read"),
]


@pytest.mark.parametrize("name, filename, content, ndim, words", IDX_CASES, ids=[c[0] for c in IDX_CASES])
def test_bad_idx_file_is_refused_with_a_clear_error(tmp_path, name, filename, content, ndim, words):
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_idx(path, ndim)
    assert words in str(err.value) and str(path) in str(err.value)


def test_gzip_bomb_stops_at_the_declared_size():
    """A header declaring 10,000 images followed by 200 MB of zeros (a 200 KB file)."""
    declared = 10_000 * 784
    blob = gzip.compress(header(10_000, 28, 28) + bytes(declared + 200_000_000), compresslevel=1)
    path = Path(os.environ["MNIST_STUDIO_CACHE"]) / "bomb-idx3-ubyte.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="holds more data than its header declares"):
            read_idx(path, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(blob) < 1_000_000
    assert peak <= 2 * declared  # never the 200 MB the stream inflates to


def test_valid_gz_file_peaks_below_twice_its_size(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5_000, 28, 28), dtype=np.uint8)
    path = tmp_path / "ok-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images), compresslevel=1))
    tracemalloc.start()
    try:
        got = read_idx(path, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(got, images)
    assert peak <= 2 * images.nbytes


def idx_folder_with(tmp_path: Path, damage: dict[str, bytes]) -> Path:
    folder = tmp_path / "idx"
    folder.mkdir(exist_ok=True)
    for name, content in {**fake_mnist(), **damage}.items():
        (folder / name).write_bytes(content)
    return folder


DATA_FOLDER_CASES = [
    (
        "gzip bomb",
        {"train-images-idx3-ubyte.gz": gzip.compress(header(120, 28, 28) + bytes(120 * 784 + 10**7))},
        "holds more data than its header declares",
    ),
    (
        "labels beyond 9",
        {"train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.full(120, 12)))},
        "holds label 12, not a digit 0-9",
    ),
    (
        "counts differ",
        {"train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.zeros(7)))},
        "do not belong together",
    ),
    (
        "wrong magic",
        {"train-images-idx3-ubyte.gz": gzip.compress(b"\x00\x00\x09\x03" + bytes(12))},
        "bad magic number",
    ),
]


@pytest.mark.parametrize("name, damage, words", DATA_FOLDER_CASES, ids=[c[0] for c in DATA_FOLDER_CASES])
def test_damaged_idx_folder_fails_training_in_one_line(tmp_path, capsys, name, damage, words):
    folder = idx_folder_with(tmp_path, damage)
    code, out, err = run_cli(capsys, "train", "--data", str(folder), "--preset", "baseline")
    assert code == 2 and words in err and err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1 and "epoch" not in err


# ================================================================ run folders


def _weights_nan(run):
    state = load_file(str(run.path / storage.WEIGHTS))
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first][0] = float("nan")
    save_file(state, str(run.path / storage.WEIGHTS))


def _weights_inf(run):
    state = load_file(str(run.path / storage.WEIGHTS))
    next(v for v in state.values() if v.is_floating_point()).fill_(float("inf"))
    save_file(state, str(run.path / storage.WEIGHTS))


def _weights_other_width(run):
    other = SMALL.replace(mlp_width=32)
    state = {k: v.contiguous() for k, v in build_model(other).state_dict().items()}
    save_file(state, str(run.path / storage.WEIGHTS))


def _weights_truncated(run):
    raw = (run.path / storage.WEIGHTS).read_bytes()
    (run.path / storage.WEIGHTS).write_bytes(raw[: len(raw) // 2])


# (name, file, content written, reason in the note)
RUN_FILE_CASES = [
    ("config list", "config.json", "[]", "config.json is not a JSON object"),
    ("config null", "config.json", "null", "config.json is not a JSON object"),
    ("config number", "config.json", "5", "config.json is not a JSON object"),
    ("config not json", "config.json", "{not json", "config.json is not valid JSON"),
    ("config bad value", "config.json", '{"lr": "fast"}', "config.json: lr must be a float, got 'fast'"),
    ("config unknown key", "config.json", '{"wings": 2}', "config.json: Unknown setting(s): wings"),
    ("config missing", "config.json", None, "config.json is missing"),
    ("meta list", "meta.json", "[]", "meta.json is not a JSON object"),
    ("meta null", "meta.json", "null", "meta.json is not a JSON object"),
    ("meta number", "meta.json", "5", "meta.json is not a JSON object"),
    ("meta created number", "meta.json", '{"created": 5}', 'meta.json has a bad "created"'),
    ("meta created null", "meta.json", '{"created": null}', 'meta.json has a bad "created"'),
    (
        "meta counter text",
        "meta.json",
        '{"test_evaluations": "many"}',
        'meta.json has a bad "test_evaluations"',
    ),
    (
        "meta negative counter",
        "meta.json",
        '{"test_evaluations": -1}',
        'meta.json has a bad "test_evaluations"',
    ),
    ("meta accuracy text", "meta.json", '{"val_accuracy": "high"}', 'meta.json has a bad "val_accuracy"'),
    ("meta sizes list", "meta.json", '{"sizes": [1, 2]}', 'meta.json has a bad "sizes"'),
    (
        "meta other evaluations",
        "meta.json",
        '{"other_evaluations": [1]}',
        'meta.json has a bad "other_evaluations"',
    ),
    ("history numbers", "history.json", "[1, 2, 3]", "history.json is not a list of epochs"),
    ("history object", "history.json", '{"epoch": 1}', "history.json is not a list of epochs"),
    (
        "history text loss",
        "history.json",
        '[{"epoch": 1, "val_loss": "low"}]',
        'history.json has a non-numeric "val_loss"',
    ),
    ("history not json", "history.json", "[{", "history.json is not valid JSON"),
]


@pytest.mark.parametrize(
    "name, filename, content, reason", RUN_FILE_CASES, ids=[c[0] for c in RUN_FILE_CASES]
)
def test_malformed_run_file_is_skipped_with_a_note(capsys, name, filename, content, reason):
    good = make_run(run_id="20240101-000000-good")
    bad = make_run(run_id="20240101-000001-bad")
    if content is None:
        (bad.path / filename).unlink()
    else:
        (bad.path / filename).write_text(content)
    listing = scan_runs()
    assert [r.id for r in listing.runs] == [good.id]
    assert listing.damaged == [(bad.id, reason)]
    assert listing.note == f"1 damaged run folder skipped: {bad.id} ({reason})"
    assert [r.id for r in scan_runs().runs] == [good.id]
    with pytest.raises(StorageError):
        storage.load_run(bad.id)
    code, out, err = run_cli(capsys, "runs")
    assert code == 0 and good.id in out and bad.id not in out
    assert err.strip() == listing.note
    code, out, err = run_cli(capsys, "evaluate", bad.id)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_note_counts_several_damaged_folders():
    make_run(run_id="a-good")
    for run_id in ("b-bad", "c-bad"):
        (make_run(run_id=run_id).path / "meta.json").write_text("[]")
    (storage.runs_dir() / "d-empty").mkdir()
    assert scan_runs().note == (
        "3 damaged run folders skipped: b-bad (meta.json is not a JSON "
        "object), c-bad (meta.json is not a JSON object), d-empty "
        "(config.json is missing)"
    )
    assert damaged_note([]) == ""


WEIGHT_CASES = [
    ("garbage", lambda run: (run.path / storage.WEIGHTS).write_bytes(b"garbage"), "is damaged"),
    ("truncated", _weights_truncated, "is damaged"),
    ("missing", lambda run: (run.path / storage.WEIGHTS).unlink(), "is missing"),
    ("nan", _weights_nan, "model is damaged: non-finite weights"),
    ("inf", _weights_inf, "model is damaged: non-finite weights"),
    ("other width", _weights_other_width, "does not match its config.json"),
]


@pytest.mark.parametrize("name, damage, words", WEIGHT_CASES, ids=[c[0] for c in WEIGHT_CASES])
def test_bad_weights_are_refused_at_load_and_export(tmp_path, capsys, name, damage, words):
    run = make_run()
    damage(run)
    with pytest.raises(StorageError, match=words):
        storage.load_run(run.id).load_model()
    reason = check_run_exportable(storage.load_run(run.id))
    assert reason is not None and words in reason
    Image.new("L", (28, 28), 0).save(tmp_path / "digit.png")
    code, out, err = run_cli(capsys, "predict", run.id, str(tmp_path / "digit.png"))
    assert code == 2 and words in err and out == "" and "nan%" not in err


def test_export_check_passes_a_good_run_and_names_a_config_swap():
    run = make_run()
    assert check_run_exportable(run) is None
    # same tensor shapes, other activation: strict loading passes, the model would differ
    (run.path / "config.json").write_text(json.dumps(SMALL.replace(activation="tanh").to_dict()))
    reason = check_run_exportable(storage.load_run(run.id))
    assert reason is not None and "different config" in reason


@pytest.mark.parametrize("run_id", ["../../outside/runs/elsewhere", "a/b", "", ".", ".."])
def test_run_ids_cannot_walk_out_of_the_runs_folder(run_id, monkeypatch, tmp_path):
    make_run(run_id="inside")
    # a run folder that "../../outside/runs/elsewhere" would reach from the runs folder
    storage.save_run(
        build_model(SMALL), SMALL, [], dict(SAMPLE_META), home=tmp_path / "outside", run_id="elsewhere"
    )
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # "." and ".." are folders without a run from here
    with pytest.raises(StorageError, match="No saved run"):
        storage.load_run(run_id)


def test_json_files_never_hold_nan():
    run = make_run(meta={**SAMPLE_META, "val_loss": float("nan"), "train_seconds": float("inf")})
    text = (run.path / "meta.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    meta = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in meta.json"))
    assert meta["val_loss"] is None and meta["train_seconds"] is None
    assert (
        dumps({"a": float("nan"), "b": [np.float32("inf")], "c": (1.5,)})
        == '{"a": null, "b": [null], "c": [1.5]}'
    )


# ================================================================ drawings databases


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")


def _truncated_ours(path: Path) -> None:
    store = DrawingStore(path)
    store.add(image28=np.zeros((28, 28), np.uint8), true_label=3)
    for extra in (Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        extra.unlink(missing_ok=True)
    raw = path.read_bytes()
    path.write_bytes(raw[:100] + b"\xff" * (len(raw) - 100))


DB_CASES = [
    ("random bytes", lambda p: p.write_bytes(os.urandom(4096)), "it is not an SQLite file"),
    (
        "sqlite header, garbage",
        lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000),
        "not a readable drawings database",
    ),
    ("another program's database", _foreign_sqlite, "an SQLite database of some other program"),
    ("a folder", lambda p: p.mkdir(), "Cannot open the drawings database"),
    ("damaged pages", _truncated_ours, "not a readable drawings database"),
]


@pytest.mark.parametrize("name, damage, words", DB_CASES, ids=[c[0] for c in DB_CASES])
def test_with_collected_and_a_damaged_database_is_one_line(isolated_home, capsys, name, damage, words):
    isolated_home.mkdir(parents=True, exist_ok=True)
    damage(isolated_home / "drawings.db")
    code, out, err = run_cli(capsys, "train", "--preset", "baseline", "--with-collected")
    assert code == 2 and words in err and err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1 and out == ""


# ================================================================ image files


def _png(size=(28, 28)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, 0).save(buf, "PNG")
    return buf.getvalue()


def _tiff() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (28, 28), 0).save(buf, "TIFF")
    return buf.getvalue()


def _noise_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(side: int) -> bytes:
    """A small PNG whose header claims side×side pixels (the size is checked before decoding)."""
    raw = bytearray(_png())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    raw[ihdr : ihdr + 8] = side.to_bytes(4, "big") * 2
    crc = zlib.crc32(bytes(raw[12 : ihdr + 13]))  # over the chunk type and its 13 data bytes
    raw[ihdr + 13 : ihdr + 17] = crc.to_bytes(4, "big")
    return bytes(raw)


IMAGE_CASES = [
    ("empty", b"", "The file is empty."),
    ("not an image", b"hello", "This is not a readable image; upload a png, jpg, jpeg file."),
    (
        "svg named png",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"/>',
        "This is not a readable image",
    ),
    ("tiff named png", _tiff(), "This is not a readable image"),
    ("header only png", _png()[:40], "This is not a readable image"),
    ("truncated png", _noise_png()[:20_000], "The image file is damaged or truncated"),
    (
        "36 megapixels",
        _bomb_png(6_000),
        "The image is 6000×6000 pixels (36 megapixels); at most 25 megapixels are accepted.",
    ),
    ("decompression bomb", _bomb_png(20_000), "The image is too large to open safely"),
    ("too many bytes", b"\x89PNG" + bytes(5_000_001), "The file is 5.0 MB; images up to 5 MB are accepted."),
]


@pytest.mark.parametrize("name, content, words", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_upload_is_a_clear_error(name, content, words):
    with pytest.raises(ImageError) as err:
        prepare_upload(content)
    assert str(err.value).startswith(words)


# ================================================================ path arguments


def test_train_out_a_file_fails_before_any_work(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x")
    for out in (target, target / "below"):
        code, stdout, err = run_cli(capsys, "train", "--preset", "baseline", "--out", str(out))
        assert code == 2 and "epoch" not in err and stdout == ""
        assert len(err.strip().splitlines()) == 1
    assert "a-file is a file, not a folder" in run_cli(capsys, "train", "--out", str(target))[2]
    assert target.read_text() == "x"


def test_runs_out_a_file_and_evaluate_bad_data_are_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    code, _, err = run_cli(capsys, "runs", "--out", str(tmp_path / "f"))
    assert code == 2 and "is a file, not a studio folder" in err
    run = make_run()
    code, out, err = run_cli(capsys, "evaluate", run.id, "--data", str(tmp_path / "nope"))
    assert code == 2 and "not 'auto', 'sample', 'mnist' or an existing folder" in err and out == ""


ABSURD_CASES = [
    (["--lr", "nan"], "lr"),
    (["--lr", "1e308"], "lr"),
    (["--epochs", "0"], "epochs"),
    (["--batch-size", "-1"], "batch_size"),
    (["--mlp-width", "1000000000"], "mlp_width"),
    (["--val-fraction", "1"], "val_fraction"),
    (["--dropout", "2"], "dropout"),
]


@pytest.mark.parametrize("flags, field", ABSURD_CASES, ids=[" ".join(c[0]) for c in ABSURD_CASES])
def test_absurd_hyperparameters_are_refused_in_one_line(capsys, flags, field):
    code, out, err = run_cli(capsys, "train", *flags)
    assert code == 2 and field in err and out == "" and len(err.strip().splitlines()) == 1


# ================================================================ data folders of a shared app


@pytest.fixture
def roots(tmp_path, monkeypatch):
    allowed = tmp_path / "allowed"
    (allowed / "mnist").mkdir(parents=True)
    (allowed / "file.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (allowed / "escape").symlink_to(outside)
    monkeypatch.setenv(access.ROOTS_ENV, str(allowed))
    return allowed, outside


@pytest.mark.parametrize(
    "given",
    [
        "{outside}",
        "{allowed}/../outside",
        "{allowed}/escape",
        "{allowed}/nope",
        "{allowed}/file.txt",
        "/proc/self",
        "/etc",
        "/",
        "~",
        "",
        "   ",
        "{allowed}/mnist\x00",
        "../outside",
        "~nosuchuser123/x",
    ],
)
def test_visitor_folders_outside_the_roots_all_read_the_same(roots, given):
    allowed, outside = roots
    text = given.format(allowed=allowed, outside=outside)
    with pytest.raises(DataError) as err:
        access.check_data_folder(text)
    assert str(err.value) == access.REFUSED  # same words whether missing, a file or elsewhere
    assert str(outside) not in str(err.value) and str(allowed) not in str(err.value)


def test_visitor_folders_inside_the_roots_are_accepted(roots):
    allowed, _ = roots
    assert access.check_data_folder(str(allowed / "mnist")) == (allowed / "mnist").resolve()
    assert access.check_data_folder("mnist") == (allowed / "mnist").resolve()  # relative to a root
    assert access.check_data_folder(f"{allowed}/mnist/../mnist/") == (allowed / "mnist").resolve()


def test_default_roots_are_the_cache_and_home(monkeypatch, tmp_path):
    monkeypatch.delenv(access.ROOTS_ENV, raising=False)
    monkeypatch.setenv("MNIST_STUDIO_CACHE", str(tmp_path / "cache"))
    assert access.allowed_data_roots() == [(tmp_path / "cache").resolve(), Path.home().resolve()]
    monkeypatch.setenv(access.ROOTS_ENV, os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "a")]))
    assert access.allowed_data_roots() == [(tmp_path / "a").resolve()]


@pytest.mark.parametrize(
    "given, expected, ok",
    [
        ("secret", "secret", True),
        ("secreT", "secret", False),
        ("", "secret", False),
        (None, "secret", False),
        ("secret", None, False),
        ("sécret", "sécret", True),
        ("secret ", "secret", False),
    ],
)
def test_password_check(given, expected, ok):
    assert access.password_ok(given, expected) is ok


def test_demo_password_and_loopback(monkeypatch):
    monkeypatch.delenv(access.PASSWORD_ENV, raising=False)
    assert access.demo_password() is None
    monkeypatch.setenv(access.PASSWORD_ENV, "pw")
    assert access.demo_password() == "pw"
    assert [access.is_loopback(a) for a in ("127.0.0.1", "localhost", "::1", "127.1.2.3")] == [True] * 4
    assert [access.is_loopback(a) for a in ("0.0.0.0", "", None, "192.168.1.5", "::", "example.org")] == [
        False
    ] * 6


def test_streamlit_config_binds_loopback_hides_errors_and_caps_uploads():
    import tomllib

    from streamlit.config import ShowErrorDetailsConfigOptions

    from mnist_core.data.drawing import load_image_file

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE.value
    cap = load_image_file.__kwdefaults__["max_bytes"]
    assert config["server"]["maxUploadSize"] == cap // 1_000_000  # MB, the app's own cap
    dry = subprocess.run(["make", "-n", "run", "HOST=0.0.0.0"], cwd=root, capture_output=True, text=True)
    assert "--server.address 0.0.0.0" in dry.stdout
    dry = subprocess.run(["make", "-n", "run"], cwd=root, capture_output=True, text=True)
    assert "--server.address 127.0.0.1" in dry.stdout


# ================================================================ every subcommand × every damaged input


def _damaged_run(damage):
    def build(tmp_path: Path) -> str:
        run = make_run(run_id="damaged")
        damage(run)
        return run.id

    return build


def _write(name: str, text: str):
    return lambda run: (run.path / name).write_text(text)


def _data_folder(damage: dict[str, bytes]):
    return lambda tmp_path: str(idx_folder_with(tmp_path, damage))


def _db(damage):
    def build(tmp_path: Path) -> str:
        home = Path(os.environ["MNIST_STUDIO_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        damage(home / "drawings.db")
        return ""

    return build


def _image(content: bytes):
    def build(tmp_path: Path) -> str:
        (tmp_path / "bad.png").write_bytes(content)
        return str(tmp_path / "bad.png")

    return build


def _file_out(tmp_path: Path) -> str:
    (tmp_path / "a-file").write_text("x")
    return str(tmp_path / "a-file")


# role -> (fixture name, builder(tmp_path) -> the argument's value)
DAMAGED_INPUTS = {
    "run": [
        ("config list", _damaged_run(_write("config.json", "[]"))),
        ("meta null", _damaged_run(_write("meta.json", "null"))),
        ("history numbers", _damaged_run(_write("history.json", "[1, 2, 3]"))),
        ("created number", _damaged_run(_write("meta.json", '{"created": 5}'))),
        ("garbage weights", _damaged_run(lambda r: (r.path / storage.WEIGHTS).write_bytes(b"x"))),
        ("nan weights", _damaged_run(_weights_nan)),
        ("mismatched weights", _damaged_run(_weights_other_width)),
        ("traversal id", lambda tmp_path: "../../etc"),
    ],
    "data": [
        ("gzip bomb", _data_folder(DATA_FOLDER_CASES[0][1])),
        ("wrong magic", _data_folder(DATA_FOLDER_CASES[3][1])),
        (
            "huge declared",
            _data_folder(
                {
                    "t10k-images-idx3-ubyte.gz": gzip.compress(header(10**6, 28, 28)),
                    "train-images-idx3-ubyte.gz": gzip.compress(header(10**6, 28, 28)),
                }
            ),
        ),
        ("missing folder", lambda tmp_path: str(tmp_path / "no-such-folder")),
    ],
    "collected": [(name, _db(damage)) for name, damage, _ in DB_CASES],
    "images": [(name, _image(content)) for name, content, _ in IMAGE_CASES[:4]],
    "out": [("a file", _file_out)],
}


class _Hung(BaseException):
    """Not an Exception (nor an OSError, which the CLI reports): nothing on the way can swallow it."""


@contextlib.contextmanager
def _hang_guard(argv: list[str], seconds: int = 60):
    """Fail instead of waiting when a command does real work (trains, measures) before it checks
    its input: each refusal here takes a second or two."""

    def fire(signum, frame):
        raise _Hung(
            f"{' '.join(argv)} still ran after {seconds} s: it starts working before it checks its input"
        )

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _roles(sub: argparse.ArgumentParser) -> set[str] | None:
    """What damaged input a subcommand can take; None when it needs arguments this test cannot fill."""
    roles = set()
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            if action.dest not in ("run", "images"):
                return None
            roles.add(action.dest)
        elif action.dest in ("data", "out"):
            roles.add(action.dest)
        elif action.dest == "with_collected":
            roles.add("collected")
        elif action.required:
            return None
    return roles


def _cases():
    for command, sub in _subparsers().items():
        roles = _roles(sub)
        for role in sorted(roles or ()):
            for name, _ in DAMAGED_INPUTS[role]:
                yield pytest.param(command, role, name, id=f"{command}-{role}-{name}")


@pytest.mark.parametrize("command, role, fixture", list(_cases()))
def test_every_subcommand_on_every_damaged_input_exits_2_in_one_line(
    tmp_path, capsys, command, role, fixture
):
    sub = _subparsers()[command]
    value = dict(DAMAGED_INPUTS[role])[fixture](tmp_path)
    good_run = make_run(run_id="good").id
    Image.new("L", (28, 28), 0).save(tmp_path / "good.png")
    argv = [command]
    for action in sub._actions:
        if action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        if action.dest == "run":
            argv.append(value if role == "run" else good_run)
        elif action.dest == "images":
            argv.append(value if role == "images" else str(tmp_path / "good.png"))
    if role == "data":
        argv += ["--data", value]
    elif role == "out":
        argv += ["--out", value]
    elif role == "collected":
        argv += ["--with-collected"]
    if command == "train":
        argv += ["--preset", "baseline"]
    with _hang_guard(argv):
        code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 2, (argv, out, err)
    if role == "images":  # predict reports each bad file as a JSON line and carries on
        assert '"error"' in out and err == ""
    else:
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err


def test_every_subcommand_is_covered():
    covered = {p.values[0] for p in _cases()}
    assert {"train", "evaluate", "predict", "runs"} <= covered
