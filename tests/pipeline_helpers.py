"""What the pipeline's end-to-end tests share: paths, a subprocess runner that kills its process group on
timeout, and the module-scoped real Prefect server (127.0.0.1, a free port) with the environment of a client
that reports to it. The fixtures are imported by name into each test module that uses them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from prefect_server import PrefectServer, prefect_env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ["data", "parent", "finetune", "invert", "translate", "morph", "analyze", "report"]


# ---- helpers -------------------------------------------------------------------------------------

def _env(**extra) -> dict:
    return prefect_env(**extra)


def run(cmd, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run in its own session; on timeout the whole process group is killed."""
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{cmd} did not finish in {timeout} s\n--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _show(proc) -> str:
    return f"rc={proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def flow_runs(api_url: str, flow_name: str) -> list:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with SyncPrefectClient(api_url) as client:
        return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))


def _params(tmp_path: Path, **edits) -> Path:
    doc = yaml.safe_load((ROOT / "smoke" / "params.yaml").read_text())
    for dotted, value in edits.items():
        *parents, leaf = dotted.split("__")
        node = doc
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


# ---- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server on 127.0.0.1:<free port>, SQLite under a temporary PREFECT_HOME."""
    with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server.api_url


@pytest.fixture(scope="module")
def client_env(prefect_server, tmp_path_factory):
    """Environment of a `stylealign`/`dvc` command that reports to the test server."""
    return _env(PREFECT_API_URL=prefect_server, PREFECT_HOME=tmp_path_factory.mktemp("prefect-client"))

