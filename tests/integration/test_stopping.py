"""Issue 28 point 1, by fault injection: the real CLI in a subprocess of its own session,
a signal sent once an output line shows the command is at the point under test (the
webserver serving, dbt nodes finishing in workers, compile workers started), then:
exit 128 + signal, one "stopped by" line, no traceback from any process, every process
the command had started gone, and for `floe dev` the port free at once.

SIGINT goes to the whole process group, as a terminal's Ctrl-C does; SIGTERM and SIGHUP
to floe's pid alone, as `kill` and a closed terminal do.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from floe.local.compile_all import compile_all
from tests.conftest import ROOT, copy_demo


@dataclass
class Stopped:
    code: int
    output: str
    started: list[int]  # every process the command had started when it was signalled
    seconds: float  # from the signal to the command's exit


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out.setdefault(int(fields[1]), []).append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    children, out, todo = _children(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_floe(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``floe argv`` in a session of its own, stdout and stderr merged."""
    return subprocess.Popen(
        [sys.executable, "-m", "floe.cli", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def stop_at(
    argv: list[str],
    cwd: Path,
    ready: str,
    signum: int,
    env: dict[str, str] | None = None,
    processes: int = 0,
) -> Stopped:
    """Run ``floe argv``; once a line matches ``ready`` (and it has started at least
    ``processes`` processes, read from the process table), send ``signum``."""
    process = start_floe(argv, cwd, env)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if re.search(ready, line):
            break
    else:
        pytest.fail(f"never printed {ready!r}:\n{''.join(lines)}")
    deadline = time.monotonic() + 60
    while len(descendants(process.pid)) < processes and time.monotonic() < deadline:
        time.sleep(0.05)
    started = descendants(process.pid)
    sent = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)
    rest = process.stdout.read()
    code = process.wait(timeout=60)
    seconds = time.monotonic() - sent
    return Stopped(code, "".join(lines) + rest, started, seconds)


def assert_stopped_cleanly(stopped: Stopped, signum: int) -> None:
    assert stopped.code == 128 + signum, stopped.output[-3000:]
    name = signal.Signals(signum).name
    assert len(re.findall(rf"^stopped by {name}\b", stopped.output, re.MULTILINE)) == 1
    assert "nothing half-written was left behind" in stopped.output
    assert "Traceback" not in stopped.output, stopped.output[-3000:]
    time.sleep(0.2)
    assert [p for p in stopped.started if alive(p)] == []
    assert stopped.seconds < 15  # STOP_SECONDS, then SIGKILL


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    demo = copy_demo(tmp_path_factory.mktemp("stopping") / "demo")
    compile_all(demo, progress=lambda _line: None, jobs=1)
    yield demo


SERVING = r"Serving dagster-webserver on"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stopping_floe_dev_stops_the_webserver_and_its_code_servers(
    demo: Path, signum: int
) -> None:
    port = free_port()
    stopped = stop_at(
        ["dev", "--platform-dir", str(demo), "--port", str(port)], demo, SERVING, signum
    )
    assert_stopped_cleanly(stopped, signum)
    assert len(stopped.started) >= 2  # the webserver and at least one code server
    assert "stopped the Dagster webserver (pid " in stopped.output
    assert port_is_free(port)


NODE_DONE = r"^  [a-z0-9-]+: \d+/\d+ "  # a dbt node finished (plain progress lines)


@pytest.mark.parametrize(("jobs", "signum"), [("2", signal.SIGINT), ("2", signal.SIGTERM)])
def test_stopping_a_parallel_run_stops_its_workers(demo: Path, jobs: str, signum: int) -> None:
    stopped = stop_at(["run", "--platform-dir", str(demo), "-j", jobs], demo, NODE_DONE, signum)
    assert_stopped_cleanly(stopped, signum)
    assert "(stopped 2 run worker(s))" in stopped.output
    assert "leaked semaphore" not in stopped.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stopping_an_in_process_run_stops_it(demo: Path, signum: int) -> None:
    """Dagster turns the signal into an interrupted run; floe stops there, with the
    signal's exit code, instead of going on to the next product."""
    stopped = stop_at(["run", "--platform-dir", str(demo), "-j", "1"], demo, NODE_DONE, signum)
    assert_stopped_cleanly(stopped, signum)
    assert "[2/4] financial-risk: materializing" not in stopped.output


def test_stopping_a_parallel_compile_stops_its_workers(demo: Path) -> None:
    argv = ["compile", "--platform-dir", str(demo), "--force", "-j", "2"]
    # the forkserver and two workers
    stopped = stop_at(argv, demo, r"^compiling \d+ product", signal.SIGTERM, processes=3)
    assert_stopped_cleanly(stopped, signal.SIGTERM)
    # the pool registers a worker just after the process table shows it: a signal in
    # between names one worker; every process is gone either way (checked above)
    assert re.search(r"\(stopped [12] compile worker\(s\)\)", stopped.output)
    code = subprocess.run(
        [sys.executable, "-m", "floe.cli", "compile", "--platform-dir", str(demo)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    ).returncode
    assert code == 0  # the next command works with no clean-up


PARENT = """
import subprocess, sys
child = subprocess.Popen(sys.argv[1:])
print(child.pid, flush=True)
child.wait()
"""


def test_floe_under_nox_stops_when_nox_is_killed(demo: Path) -> None:
    """`kill <nox pid>`: nox dies without stopping floe; Linux's parent-death signal
    (set when NOX_CURRENT_SESSION is in the environment) makes floe stop what it
    started."""
    port = free_port()
    argv = ["dev", "--platform-dir", str(demo), "--port", str(port)]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, sys.executable, "-m", "floe.cli", *argv],
        cwd=demo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NOX_CURRENT_SESSION": "dev"},
    )
    assert parent.stdout is not None
    floe_pid = int(parent.stdout.readline())
    for line in parent.stdout:
        if re.search(SERVING, line):
            break
    started = [floe_pid, *descendants(floe_pid)]
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(alive(p) for p in started):
        time.sleep(0.2)
    assert [p for p in started if alive(p)] == []
    assert port_is_free(port)


# ------------------------------------------------ issue 28 points 2 and 6: concurrency


def test_a_second_floe_dev_on_one_port_is_refused_naming_the_first(demo: Path) -> None:
    port = free_port()
    argv = ["dev", "--platform-dir", str(demo), "--port", str(port)]
    first = start_floe(argv, demo)
    assert first.stdout is not None
    try:
        for line in first.stdout:
            if re.search(SERVING, line):
                break
        second = subprocess.run(
            [sys.executable, "-m", "floe.cli", *argv],
            cwd=demo,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
            timeout=120,
        )
        assert second.returncode == 8
        webserver = [p for p in descendants(first.pid) if "dagster-webserver" in _cmdline(p)]
        assert f"port {port} on 127.0.0.1 is in use by pid {webserver[0]}" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 143 and port_is_free(port)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_compile_while_a_run_holds_the_product_is_refused_naming_the_run(demo: Path) -> None:
    from floe.local.run import run_locks

    product = demo / "iot-telemetry"
    before = (product / "definitions.py").read_bytes()
    with run_locks([product], progress=lambda _line: None):
        done = subprocess.run(
            [sys.executable, "-m", "floe.cli", "compile", "--force", "--product", "iot-telemetry"],
            cwd=demo,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
            timeout=300,
        )
    assert done.returncode == 9, done.stdout + done.stderr
    assert f"a floe run (pid {os.getpid()}) is running iot-telemetry" in done.stderr
    assert "Traceback" not in done.stderr
    assert (product / "definitions.py").read_bytes() == before


def test_a_run_lock_left_by_a_killed_run_is_taken_over_with_a_message(demo: Path) -> None:
    from floe.run_lock import RUN_LOCK, run_lock

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    product = demo / "iot-telemetry"
    (product / RUN_LOCK).write_text(f"{gone.pid}\n")
    lines: list[str] = []
    with run_lock(product, lines.append):
        assert (product / RUN_LOCK).read_text().split()[0] == str(os.getpid())
    assert lines == [
        f"iot-telemetry: took over the run lock of pid {gone.pid}, which ended without "
        "releasing it (killed); its run published nothing after that"
    ]
    assert (product / RUN_LOCK).read_text() == ""  # released: no pid left behind
