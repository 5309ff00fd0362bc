"""floe's CLI, SIGKILLed by itself while it writes one output file (issue 28 point 2).

    python tests/integration/kill_probe.py NAME MODE FLOE-ARGS...

NAME is the end of the output's path (``compiled_artifacts.json``, ``.floe/profiles.yml``,
...: floe writes some names in temporary directories too); MODE says when the kill lands:

- ``half``: half of the new version is in the temp file (killed before its fsync);
- ``replace``: the whole new version is in the temp file, not yet renamed over the old.

Everything else is the real command; only the kill is added.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    name, mode, *argv = sys.argv[1:]
    real_replace, real_fsync = os.replace, os.fsync
    stdout = os.dup(1)  # floe run sends fd 1 and 2 to the run log while dbt runs

    def die() -> None:
        os.write(stdout, f"killing myself while writing {name} ({mode})\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)

    base = os.path.basename(name)

    def fsync(fd: int) -> None:
        temp = os.readlink(f"/proc/self/fd/{fd}")
        folder, temp_name = os.path.split(temp)
        if (
            mode == "half"
            and temp_name.startswith(f".{base}.")
            and os.path.join(folder, base).endswith(f"/{name}")
        ):
            os.ftruncate(fd, os.fstat(fd).st_size // 2)
            die()
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        if mode == "replace" and os.path.abspath(dst).endswith(f"/{name}"):
            die()
        real_replace(src, dst)

    os.fsync = fsync
    os.replace = replace  # type: ignore[assignment]
    from floe.cli import main as floe

    sys.argv = ["floe", *argv]
    floe()


if __name__ == "__main__":
    main()
