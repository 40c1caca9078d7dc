"""What the tests that start real services share: a free loopback port, and "unavailable" (skip with the
reason, or fail under CI=true, where every service test must run)."""
from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable(reason: str):
    """Skip, or fail under CI=true (CI must run the service tests)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"unavailable under CI=true: {reason}")
    pytest.skip(reason)
