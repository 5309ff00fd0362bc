"""Typed health checks with bounded timeouts and retries.  Standard library only."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    name: str
    healthy: bool
    latency_ms: float
    detail: str
    endpoint: str
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Probe = Callable[[float], tuple[bool, str]]


def _attempt(
    name: str, endpoint: str, probe: Probe, timeout_s: float, retries: int, backoff_s: float
) -> CheckResult:
    """Run ``probe`` up to 1 + ``retries`` times; report the last attempt's latency."""
    attempts = 0
    healthy, detail, latency = False, "not run", 0.0
    for attempts in range(1, retries + 2):
        start = time.perf_counter()
        try:
            healthy, detail = probe(timeout_s)
        except (OSError, ValueError) as exc:
            healthy, detail = False, _describe(exc, timeout_s)
        latency = (time.perf_counter() - start) * 1000
        if healthy or attempts > retries:
            break
        time.sleep(backoff_s * attempts)
    return CheckResult(name, healthy, round(latency, 1), detail, endpoint, attempts)


def _describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, socket.timeout | TimeoutError) or "timed out" in str(exc):
        return f"timed out after {timeout_s:g}s"
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable: {exc.reason}"
    return f"unreachable: {exc}"


def http_check(
    name: str,
    url: str,
    *,
    ok_status: Sequence[int] = tuple(range(200, 300)),
    timeout_s: float = 3.0,
    retries: int = 2,
    backoff_s: float = 0.5,
) -> CheckResult:
    """GET ``url``; healthy when the status is in ``ok_status``."""

    def probe(timeout: float) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        return status in ok_status, f"HTTP {status}"

    return _attempt(name, url, probe, timeout_s, retries, backoff_s)


def postgres_check(
    name: str,
    host: str,
    port: int,
    *,
    timeout_s: float = 3.0,
    retries: int = 2,
    backoff_s: float = 0.5,
) -> CheckResult:
    """Speak the first bytes of the PostgreSQL protocol (SSLRequest) and expect 'S' or 'N'."""

    def probe(timeout: float) -> tuple[bool, str]:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
            answer = sock.recv(1)
        if answer in (b"S", b"N"):
            return True, "accepts PostgreSQL connections"
        return False, f"unexpected reply {answer!r}: not PostgreSQL"

    return _attempt(name, f"postgresql://{host}:{port}", probe, timeout_s, retries, backoff_s)


WORKSPACE_QUERY = (
    "{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)


def dagster_check(
    name: str,
    base_url: str,
    expected_locations: Sequence[str],
    *,
    timeout_s: float = 5.0,
    retries: int = 2,
    backoff_s: float = 0.5,
) -> CheckResult:
    """The webserver answers GraphQL and every expected code location is loaded."""
    url = base_url.rstrip("/") + "/graphql"

    def probe(timeout: float) -> tuple[bool, str]:
        request = urllib.request.Request(
            url,
            data=json.dumps({"query": WORKSPACE_QUERY}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
        entries = body["data"]["workspaceOrError"]["locationEntries"]
        loaded = {
            e["name"]
            for e in entries
            if (e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation"
        }
        errors = {
            e["name"]: (e.get("locationOrLoadError") or {}).get("message", "")[:200]
            for e in entries
            if (e.get("locationOrLoadError") or {}).get("__typename") == "PythonError"
        }
        missing = sorted(set(expected_locations) - loaded)
        if missing:
            why = "; ".join(f"{n}: {errors.get(n, 'not loaded')}" for n in missing)
            return False, f"code locations not loaded: {why}"
        return True, f"{len(loaded)} code locations loaded: {', '.join(sorted(loaded))}"

    return _attempt(name, url, probe, timeout_s, retries, backoff_s)


def run_checks(checks: Sequence[Callable[[], CheckResult]], workers: int = 8) -> list[CheckResult]:
    """Run checks concurrently; results keep the order of ``checks``."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(checks)))) as pool:
        return list(pool.map(lambda check: check(), checks))
