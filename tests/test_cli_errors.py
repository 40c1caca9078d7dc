"""One error path for every subcommand: `stylealign: error: <message>` on stderr, no traceback.

Most cases run the real command line in a subprocess (what a user sees, exit codes included); a few
call stylealign.cli.main in-process where only the message matters.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from stylealign.cli import main, run_command
from stylealign_core import Discriminator, Generator
from stylealign_core.checkpoints import save_checkpoint
from stylealign_core.errors import StylealignError

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "stylealign: error: "


def stylealign(*argv, **kwargs) -> subprocess.CompletedProcess:
    """The real command line, from this checkout, with this interpreter."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "stylealign.cli", *map(str, argv)], capture_output=True, text=True,
                          timeout=300, env=env, **kwargs)


def one_error_line(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single stderr line of a refused command (asserting no traceback and the exit code)."""
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), proc.stderr
    return lines[0][len(PREFIX):]


def refused(argv, capsys) -> str:
    """stylealign.cli.main in-process: exit status 2 and one `stylealign: error:` line; the message."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    return lines[0][len(PREFIX):]


@pytest.fixture(scope="module")
def parent32(tmp_path_factory) -> Path:
    """A tiny freshly initialised 32 px parent checkpoint (G, D, G_ema)."""
    torch.manual_seed(0)
    kw = dict(img_resolution=32, img_channels=3, channel_base=256, channel_max=32)
    G = Generator(z_dim=32, w_dim=32, mapping_layers=2, **kw)
    return save_checkpoint(tmp_path_factory.mktemp("parent") / "parent32", {"G": G, "D": Discriminator(**kw), "G_ema": G})


@pytest.fixture(scope="module")
def data64(tmp_path_factory) -> Path:
    """A stylealign data set of 8 random 64 px images, built by the real `stylealign data folder`."""
    base = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    (base / "imgs").mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(base / "imgs" / f"{i}.png")
    assert main(["data", "folder", str(base / "imgs"), "--resolution", "64", "--out", str(base / "d64"), "--quiet"]) == 0
    return base / "d64"


def test_a_bad_config_value_names_the_key(tmp_path, capsys):
    params = tmp_path / "train.yaml"
    params.write_text(yaml.safe_dump({"parent": {"train": {"batch": "abc"}}}))
    msg = refused(["train", "--data", tmp_path, "--out", tmp_path / "run", "--params", params,
                   "--section", "parent.train"], capsys)
    assert msg == "train.batch: expected int, got 'abc'"
    msg = refused(["train", "--data", tmp_path, "--out", tmp_path / "run", "--params", params,
                   "--section", "parent.nope"], capsys)
    assert msg == f"--params {params} has no section 'parent.nope' (a dotted key, e.g. finetune.train)"


def test_a_missing_file_is_one_line(tmp_path, capsys):
    assert "no such file" in one_error_line(stylealign("info", tmp_path / "nothing.pkl"))  # the real exit path
    msg = refused(["train", "--data", tmp_path / "no-data", "--out", tmp_path / "run"], capsys)
    assert "no-data" in msg and "not found" in msg
    msg = refused(["train", "--data", "d", "--out", "o", "--params", tmp_path / "nope.yaml"], capsys)
    assert "nope.yaml" in msg and "No such file" in msg
    assert "not found" in refused(["data", "info", tmp_path / "no-set"], capsys)


def test_train_and_finetune_use_the_common_prefix(tmp_path, data64, capsys):
    assert "no-parent.json" in refused(["finetune", "--parent", tmp_path / "no-parent.json", "--data", data64,
                                        "--out", tmp_path / "run"], capsys)
    assert "none.yaml" in refused(["train", "--data", data64, "--out", tmp_path / "run", "--params",
                                   tmp_path / "none.yaml"], capsys)
    msg = refused(["export", "--run", tmp_path / "no-run", "--out", tmp_path / "m"], capsys)
    assert msg.startswith(f"{tmp_path / 'no-run'}: no complete snapshot")


def test_a_32px_parent_with_64px_data_is_refused_in_one_line(tmp_path, parent32, data64):
    msg = one_error_line(stylealign("finetune", "--parent", parent32, "--data", data64, "--out", tmp_path / "run",
                                    "--kimg", "0.008", "--batch", "4", "--no-progress"))
    assert "parent makes 3x32px images" in msg and "64px" in msg


def test_cuda_on_a_cpu_only_torch_is_refused_before_anything_runs(tmp_path, data64):
    proc = stylealign("train", "--data", data64, "--out", tmp_path / "run", "--device", "cuda", "--kimg", "0.004")
    if torch.cuda.is_available():  # a CUDA machine: the same flag is accepted (the run starts)
        assert "train.device" not in proc.stderr
        return
    msg = one_error_line(proc)
    assert msg.startswith("train.device: 'cuda', but this torch") and "use 'cpu'" in msg
    assert not (tmp_path / "run").exists()


def test_a_closed_stdout_ends_quietly(parent32):
    """`stylealign info CKPT | head`: the reader is gone before we write; no traceback, no noise."""
    cmd = [sys.executable, "-m", "stylealign.cli", "info", str(parent32), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PYTHONPATH": str(ROOT)})
    proc.stdout.close()  # the reader goes away at once: every write of the command hits a broken pipe
    _, err = proc.communicate(timeout=300)
    assert err == b"", err.decode()
    assert proc.returncode == 1

    shell = subprocess.run(["bash", "-c", f"'{sys.executable}' -m stylealign.cli info '{parent32}' | head -c 10"],
                           capture_output=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert shell.stdout == b"checkpoint" and shell.stderr == b"", shell.stderr.decode()


def test_ctrl_c_exits_130_with_a_short_message(capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    assert run_command(interrupted, None) == 130
    assert capsys.readouterr().err == "stylealign: interrupted\n"


def test_a_bug_keeps_its_traceback():
    def buggy(args):
        return [][1]

    with pytest.raises(IndexError):
        run_command(buggy, None)


def test_every_user_error_type_is_a_stylealign_error():
    from stylealign.pipeline_cli import StageFailed
    from stylealign_core.checkpoints import CheckpointError
    from stylealign_core.data import DataError
    from stylealign_core.params import ParamsError
    from stylealign_core.training.config import ConfigError
    from stylealign_core.training.snapshots import SnapshotError

    for cls in (CheckpointError, DataError, ParamsError, ConfigError, SnapshotError, StageFailed):
        assert issubclass(cls, StylealignError), cls
    assert issubclass(CheckpointError, ValueError) and issubclass(SnapshotError, RuntimeError)  # old bases kept
    assert StageFailed.exit_code == 1 and ConfigError.exit_code == 2


def test_pipeline_params_with_cuda_fail_at_validation(tmp_path, capsys):
    doc = yaml.safe_load((ROOT / "smoke" / "params.yaml").read_text())
    doc["finetune"]["train"]["device"] = "cuda"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: 'cuda' is a valid device here")
    msg = refused(["pipeline", "run", "--stage", "finetune", "--params", tmp_path / "params.yaml"], capsys)
    assert msg.startswith(f"{tmp_path / 'params.yaml'}: finetune.train.device: 'cuda', but this torch")
