"""The guarded opener: regular files only, real paths inside their roots, sizes capped, loops reported."""

from __future__ import annotations

import os

import pytest

from mnist_core import files
from mnist_core.files import FileRefused


def test_reads_a_regular_file_within_its_limit(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"x": 1}')
    assert files.read_bytes(p, limit=100) == b'{"x": 1}'
    assert files.read_json(p, limit=100) == {"x": 1}


def test_a_file_over_the_limit_is_refused_before_reading(tmp_path):
    p = tmp_path / "big.bin"
    p.write_bytes(b"0" * 1001)
    with pytest.raises(FileRefused, match="1,001 bytes; at most 1,000"):
        files.read_bytes(p, limit=1000)


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match="pipe"):
        files.read_bytes(fifo, limit=10)


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileRefused, match="device"):
        files.read_bytes(link, limit=10)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(FileRefused, match="folder"):
        files.read_bytes(tmp_path, limit=10)


def test_a_symlink_loop_is_reported_as_damage(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(FileRefused, match="loop"):
        files.read_bytes(loop, limit=10)
    assert files.is_dir(loop) is None


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileRefused, match="does not exist"):
        files.read_bytes(tmp_path / "nope", limit=10, what="space file")


def test_a_link_leading_out_of_its_root_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "ok.txt").write_text("y")
    assert files.read_text(root / "ok.txt", limit=10, roots=[root]) == "y"
    with pytest.raises(FileRefused, match="outside"):
        files.read_text(root / "link.txt", limit=10, roots=[root])


def test_text_and_json_errors_are_one_line(tmp_path):
    p = tmp_path / "bad.json"
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(FileRefused, match="not UTF-8"):
        files.read_text(p, limit=10)
    p.write_text("{nope")
    with pytest.raises(FileRefused, match="not valid JSON") as info:
        files.read_json(p, limit=10)
    assert "\n" not in str(info.value)
