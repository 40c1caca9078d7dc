"""A real Prefect server for the tests: ``prefect server start`` on 127.0.0.1:<free port>, SQLite under a
temporary PREFECT_HOME, in its own process session (stopped with everything it started)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from services import free_port

BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT_S = 60


def prefect_env(**extra) -> dict:
    """The environment of a Prefect/DVC/stylealign command: the venv first on PATH, no analytics."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def stop_process_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the process's own session: it and its children only
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


class PrefectServer:
    """Context manager: start the server (optionally with its UI), yield it, stop it."""

    def __init__(self, home: Path, ui: bool = False):
        self.home, self.ui, self.port = Path(home), ui, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api"
        self.proc = None

    def __enter__(self) -> "PrefectServer":
        env = prefect_env(PREFECT_HOME=self.home, PREFECT_UI_ENABLED=str(self.ui).lower(),
                          PREFECT_UI_API_URL=self.api_url)
        self._log = open(self.home / "server.log", "w")
        self.proc = subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                                      str(self.port)], stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self._healthy():
            if self.proc.poll() is not None:
                self.__exit__()
                pytest.fail(f"prefect server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.__exit__()
                pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}")
            time.sleep(0.5)
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r:  # noqa: S310 - loopback
                return r.status == 200
        except OSError:
            return False

    def log_tail(self) -> str:
        return (self.home / "server.log").read_text()[-3000:]

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)
        self._log.close()
