"""Atomic writes: the target holds the old or the new content, never a partial one, and no temp file stays."""
import json
import os

import pytest

from stylealign_core.atomic import write_atomic, write_bytes_atomic, write_json_atomic


def test_writes_replace_the_target_with_usual_permissions(tmp_path):
    target = tmp_path / "sub" / "a.bin"
    write_bytes_atomic(target, b"one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert os.listdir(target.parent) == ["a.bin"]
    write_json_atomic(tmp_path / "m.json", {"b": 1, "a": float("nan"), "p": tmp_path})
    text = (tmp_path / "m.json").read_text()
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text)["p"] == str(tmp_path)


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def half_then_crash(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half_then_crash)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "b.json", {1: 2, "x": 3})  # mixed key types cannot be sorted
    assert os.listdir(tmp_path) == ["a.txt"]


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
