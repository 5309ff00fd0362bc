"""`floe demo dev`: the Dagster webserver on loopback with every product as a code location."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from floe.compiler.writer import write_atomic
from floe.errors import FloeError, Location, PrerequisiteError
from floe.local.products import discover_products, local_instance_home
from floe.product_files import DEFINITIONS_FILE
from floe.stopping import stop_groups

WORKSPACE_DIR = ".floe"


def workspace(demo_dir: Path) -> dict[str, object]:
    """A Dagster workspace: one python_file code location per compiled product."""
    entries = []
    for product in discover_products(demo_dir):
        definitions = product / DEFINITIONS_FILE
        if not definitions.is_file():
            raise FloeError(
                f"{product.name} has no generated definitions.py",
                Location(definitions),
                hint="run `nox -s compile_demo` first",
            )
        entries.append(
            {
                "python_file": {
                    "relative_path": str(definitions.resolve()),
                    "location_name": product.name,
                    "working_directory": str(product.resolve()),
                }
            }
        )
    return {"load_from": entries}


def write_workspace(demo_dir: Path) -> Path:
    path = demo_dir / WORKSPACE_DIR / "workspace.yaml"
    write_atomic(path, yaml.safe_dump(workspace(demo_dir), sort_keys=True))
    return path


def _dagster_exe(name: str) -> Path:
    exe = Path(sys.executable).parent / name
    if exe.exists():
        return exe
    found = shutil.which(name)
    if not found:
        raise PrerequisiteError(
            f"{name} is not installed", hint="pip install -e . (it is a dependency)"
        )
    return Path(found)


def webserver_command(workspace_file: Path, host: str, port: int) -> list[str]:
    exe = _dagster_exe("dagster-webserver")
    return [str(exe), "-w", str(workspace_file), "-h", host, "-p", str(port)]


def daemon_command(workspace_file: Path) -> list[str]:
    """The Dagster daemon: it starts the runs the UI queues (the instance's default run
    coordinator queues them) and fires schedules and sensors, as `dagster dev` runs it."""
    return [str(_dagster_exe("dagster-daemon")), "run", "-w", str(workspace_file)]


def serve(demo_dir: Path, *, host: str, port: int, echo: Callable[[str], None]) -> None:
    """Run the webserver and the daemon until Ctrl-C; runs and schedules persist in
    <platform>/.floe/dagster_home, where `floe run` records its runs too."""
    refuse_busy_port(host, port)
    workspace_file = write_workspace(demo_dir)
    command = webserver_command(workspace_file, host, port)
    daemon = daemon_command(workspace_file)
    home = local_instance_home(demo_dir)  # where `floe run` records its runs
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    echo(
        f"Dagster UI on http://{host}:{port} (Ctrl-C stops it); workspace {workspace_file}; "
        "the Dagster daemon starts the runs you launch and fires schedules"
    )
    # each in a process group of its own: a stop signals the webserver, the daemon and
    # the code servers they start, and waits until they are gone (the port is free when
    # floe exits)
    groups = [(subprocess.Popen(command, env=env, start_new_session=True), "the Dagster webserver")]
    try:
        daemon_process = subprocess.Popen(daemon, env=env, start_new_session=True)
        groups.append((daemon_process, "the Dagster daemon"))
        groups[0][0].wait()
    finally:
        stop_groups(groups)


def refuse_busy_port(host: str, port: int) -> None:
    """PrerequisiteError naming the process that listens on ``port`` (another floe dev,
    most often), instead of a webserver that fails to bind after starting its servers."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return
        except OSError:
            pass
    holder = listener(port)
    raise PrerequisiteError(
        f"port {port} on {host} is in use"
        + (f" by pid {holder[0]} ({holder[1]})" if holder else ""),
        hint="stop that process, or pass --port with a free port",
    )


def listener(port: int) -> tuple[int, str] | None:
    """(pid, command line) of the process listening on TCP ``port``, from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for entry in os.listdir("/proc") if inodes else []:
        if not entry.isdigit():
            continue
        try:
            links = set()
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):  # closed meanwhile
                    links.add(os.readlink(f"/proc/{entry}/fd/{fd}"))
            if links & inodes:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
                return int(entry), command.strip()[:120]
        except OSError:
            continue
    return None
