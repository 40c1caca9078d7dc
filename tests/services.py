"""What the tests that start real services share: a free loopback port, "unavailable" (skip with the
reason, or fail under CI=true, where every service test must run), and installing missing Debian packages."""
from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess

import pytest

APT_TIMEOUT_S = 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable(reason: str):
    """Skip, or fail under CI=true (CI must run the service tests)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"unavailable under CI=true: {reason}")
    pytest.skip(reason)


def require_stlpips() -> None:
    """The shift-tolerant LPIPS weights (``stylealign[invert]``, installed by ``make setup``): skip without them,
    or fail under CI=true."""
    if importlib.util.find_spec("stlpips_pytorch") is None:
        unavailable("stlpips-pytorch is not installed (pip install 'stylealign[invert]')")


def apt_install(packages: list[str], binaries: list[str]) -> None:
    """Make ``binaries`` available, installing ``packages`` with apt-get (root only) when one is missing.

    Two pytest-xdist workers may install at the same time (Ceph in one, Chromium in the other): apt-get waits
    for the other's dpkg lock instead of failing. The package lists may be missing on a fresh image: a failed
    install is retried once after `apt-get update`."""
    if all(shutil.which(b) for b in binaries):
        return
    what = f"apt-get install {' '.join(packages)}"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        unavailable(f"{', '.join(binaries)} not installed and cannot be installed here (needs root and apt-get: "
                    f"{what})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", f"DPkg::Lock::Timeout={APT_TIMEOUT_S}"]
    cmd = ["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *packages]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    if proc.returncode != 0:
        subprocess.run(["apt-get", *lock, "update", "-q"], capture_output=True, env=env, timeout=APT_TIMEOUT_S)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    if proc.returncode != 0 or not all(shutil.which(b) for b in binaries):
        unavailable(f"{what} failed: {proc.stderr[-500:]}")
