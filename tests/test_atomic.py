"""Atomic writes: the target holds the old or the new content, never a partial one, and no temp file stays."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stylealign_core import atomic
from stylealign_core.atomic import (is_staging_name, publish_dir, remove_stale_dirs, write_atomic, write_bytes_atomic,
                                    write_json_atomic)


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


# ---- directories: publish_dir -------------------------------------------------------------------------
def _version_dir(version: int, files: int = 12):
    def build(tmp):
        for i in range(files):
            (tmp / f"v{version}-{i:02d}.txt").write_text(f"{version}\n")
        return version
    return build


def test_publish_dir_replaces_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "model"
    assert publish_dir(target, _version_dir(1)) == 1
    assert publish_dir(target, _version_dir(2, files=3)) == 2  # a second publish replaces the whole directory
    assert sorted(p.name for p in target.iterdir()) == ["v2-00.txt", "v2-01.txt", "v2-02.txt"]
    assert os.listdir(tmp_path) == ["model"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    with pytest.raises(FileExistsError, match="already exists"):
        publish_dir(target, _version_dir(3), overwrite=False)
    assert sorted(os.listdir(target))[0] == "v2-00.txt" and os.listdir(tmp_path) == ["model"]


@pytest.mark.parametrize("linux_calls", [True, False], ids=["syncfs+renameat2", "fsync-each+rename-aside"])
def test_a_failure_mid_build_leaves_the_old_directory_intact(tmp_path, monkeypatch, linux_calls):
    if not linux_calls:  # the portable path: no syncfs, no RENAME_EXCHANGE
        monkeypatch.setattr(atomic, "_libc", lambda: None)
    target = tmp_path / "data"
    publish_dir(target, _version_dir(1, files=2))

    def half_then_crash(tmp):
        _version_dir(2)(tmp)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish_dir(target, half_then_crash)
    assert sorted(os.listdir(target)) == ["v1-00.txt", "v1-01.txt"] and os.listdir(tmp_path) == ["data"]
    publish_dir(target, _version_dir(3, files=1))
    assert os.listdir(target) == ["v3-00.txt"] and os.listdir(tmp_path) == ["data"]


def test_a_reader_always_finds_one_complete_directory(tmp_path):
    """While publishes run, the directory a reader opens at the target is one whole version: never a mix,
    never partly built. (Only a directory already swapped out shrinks, while it is deleted.)"""
    target = tmp_path / "live"
    publish_dir(target, _version_dir(0))
    seen, missing, stop = [], [0], threading.Event()

    def read():
        while not stop.is_set():
            try:
                fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                missing[0] += 1
                continue
            try:
                names = os.listdir(fd)
                try:
                    current = os.stat(target).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    current = False
            finally:
                os.close(fd)
            seen.append((len({n.split("-")[0] for n in names}), len(names), current))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(1, 25):
            publish_dir(target, _version_dir(version))
    finally:
        stop.set()
        reader.join()
    assert len(seen) > 24 and all(versions <= 1 for versions, _, _ in seen)
    assert all(count == 12 for _, count, current in seen if current)
    probe_a, probe_b = tmp_path / "a", tmp_path / "b"
    probe_a.mkdir(), probe_b.mkdir()
    if atomic._exchange(probe_a, probe_b):  # with RENAME_EXCHANGE the path never goes missing either
        assert missing[0] == 0


def test_publishes_killed_earlier_are_cleaned_up_or_rolled_back(tmp_path):
    target = tmp_path / "ds"
    code = ("import os, sys\nfrom stylealign_core.atomic import publish_dir\n"
            f"publish_dir({str(target)!r}, lambda tmp: (tmp.joinpath('x').write_text('half'), os._exit(9)))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 9
    (leftover,) = tmp_path.iterdir()
    assert is_staging_name(leftover.name) and ".tmp-" in leftover.name
    # a process killed between the two renames of the fallback swap: the old directory is put back
    dead_pid = leftover.name.split(".tmp-")[1].split("-")[0]
    old = tmp_path / f".ds.old-{dead_pid}-abcd"
    _version_dir(1, files=1)(old.mkdir() or old)
    assert remove_stale_dirs(target) == [leftover]
    assert os.listdir(target) == ["v1-00.txt"] and os.listdir(tmp_path) == ["ds"]


def test_only_directories_are_replaced(tmp_path):
    (tmp_path / "f").write_text("a file")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        publish_dir(tmp_path / "f", _version_dir(1))
    assert sorted(os.listdir(tmp_path)) == ["f"]
