"""Fixtures for the live suite (run by `nox -s e2e` against `nox -s demo`'s deployment)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from floe.errors import PrerequisiteError
from floe.packaging.deploy import NAMESPACE, RELEASE, preflight


def kubectl(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["kubectl", "--namespace", NAMESPACE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@pytest.fixture(scope="session", autouse=True)
def live_deployment() -> None:
    """No cluster, no release: stop the whole run with the reason (never a silent pass)."""
    try:
        preflight()
    except PrerequisiteError as error:
        pytest.exit(str(error), returncode=PrerequisiteError.exit_code)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def port_forward(service: str, port: int, timeout_s: float = 60) -> Iterator[str]:
    """kubectl port-forward svc/<release>-<service>; yields http://127.0.0.1:<local>."""
    local = _free_port()
    proc = subprocess.Popen(
        [
            "kubectl",
            "--namespace",
            NAMESPACE,
            "port-forward",
            f"svc/{RELEASE}-{service}",
            f"{local}:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", local), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    reason = proc.stderr.read() if proc.stderr else ""
                    raise AssertionError(f"port-forward to {service} failed: {reason}") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{local}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def forward() -> Callable[[str, int], object]:
    return port_forward


@pytest.fixture(scope="session")
def credentials() -> dict[str, str]:
    data = json.loads(kubectl("get", "secret", "floe-demo-credentials", "-o", "json"))["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}
