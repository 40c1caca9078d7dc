"""A real S3 store for the tests: single-node Ceph radosgw on 127.0.0.1 (scripts/s3/ceph-rgw-local.sh).

The store is installed on first use where possible (Debian packages, as root, bounded in time) and
started on free ports; the test module that starts it stops it. Where Ceph cannot be installed the tests
skip with the reason, except under ``CI=true``, where that is a failure.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from services import apt_install, free_port, unavailable

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "s3" / "ceph-rgw-local.sh"
PACKAGES = ["ceph-mon", "ceph-osd", "radosgw", "ceph-common"]
ACCESS_KEY, SECRET_KEY = "DVCACCESSKEY", "DVCSECRETKEY123"
START_TIMEOUT_S = 180


def ensure_ceph() -> None:
    """Install the Ceph packages when missing (root + apt-get only); skip/fail with the reason otherwise."""
    apt_install(PACKAGES, ["radosgw", "ceph-mon", "ceph-osd", "monmaptool", "radosgw-admin"])


@dataclass
class S3Store:
    directory: Path
    rgw_port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rgw_port}"

    @property
    def env(self) -> dict:
        """Environment for boto3 and DVC clients of this store (credentials never go into a file)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1")

    def _pids(self, names) -> list[int]:
        run = self.directory / "run"
        return [int((run / f"{n}.pid").read_text()) for n in names if (run / f"{n}.pid").exists()]

    def stop_gateway(self) -> None:
        """Take the S3 endpoint down (the cluster stays), as an outage would."""
        _kill(self._pids(["client.rgw"]))
        (self.directory / "run" / "client.rgw.pid").unlink(missing_ok=True)
        _wait(lambda: not _answers(self.endpoint), 30, "radosgw did not stop")

    def start_gateway(self) -> None:
        subprocess.run(["radosgw", "-c", str(self.directory / "ceph.conf"), "-n", "client.rgw"], check=True,
                       timeout=60)
        _wait(lambda: _answers(self.endpoint), 60, "radosgw did not come back")

    def stop(self) -> None:
        """Stop every daemon of this store, also those that died before writing their pid file."""
        pids = set(self._pids(["client.rgw", "osd.0", "mon.a"])) | set(_pids_with_arg(str(self.directory)))
        _kill(sorted(pids), force_after_s=20)


def start_store(directory: Path, attempts: int = 2) -> S3Store:
    """Start the store on free ports; a start that fails (Ceph daemons racing at start-up) is retried once."""
    ensure_ceph()
    for attempt in range(attempts):
        mon_port, rgw_port = free_port(), free_port()
        proc = subprocess.run(["bash", str(SCRIPT), str(directory), str(mon_port), str(rgw_port)],
                              capture_output=True, text=True, timeout=START_TIMEOUT_S)
        store = S3Store(directory, rgw_port)
        if proc.returncode == 0 and "RGW ready" in proc.stdout:
            return store
        store.stop()
    unavailable(f"the Ceph S3 store did not start (rc {proc.returncode}): {proc.stderr[-800:]}")


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - loopback test endpoint
        return True
    except urllib.error.HTTPError:
        return True  # an S3 error response still means the gateway is up
    except OSError:
        return False


def _wait(predicate, timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(0.25)


def _kill(pids: list[int], force_after_s: float = 10) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + force_after_s
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _pids_with_arg(fragment: str) -> list[int]:
    """Processes whose command line mentions ``fragment`` (the store's directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if fragment in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A real store for the test module that imports this fixture (``from s3store import store``), stopped
    at the module's end."""
    s3 = start_store(tmp_path_factory.mktemp("ceph"))
    try:
        yield s3
    finally:
        s3.stop()
