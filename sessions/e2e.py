"""`nox -s e2e`: the live-cluster suite.  Fails fast, naming what is missing, when there is
no cluster or no release (it never passes on nothing).  `-- --repeat 3` runs it three
times to show it is not flaky (BC-10.2); other arguments go to pytest."""

from __future__ import annotations

import nox

REPEAT = "--repeat"


def split_repeat(args: list[str]) -> tuple[int, list[str]]:
    """(times, the remaining pytest arguments) from session.posargs."""
    if REPEAT not in args:
        return 1, args
    index = args.index(REPEAT)
    try:
        times = int(args[index + 1])
    except (IndexError, ValueError):
        raise ValueError(f"{REPEAT} needs a number, e.g. -- {REPEAT} 3") from None
    if times < 1:
        raise ValueError(f"{REPEAT} must be at least 1")
    return times, args[:index] + args[index + 2 :]


def e2e(session: nox.Session) -> None:
    try:
        times, pytest_args = split_repeat(list(session.posargs))
    except ValueError as exc:
        session.error(str(exc))
    session.install("-e", ".[stack,dev]")
    session.run("python", "-m", "floe.packaging.deploy", "preflight")
    for attempt in range(1, times + 1):
        session.log(f"e2e run {attempt}/{times}")
        session.run("pytest", "tests/e2e", "-m", "e2e", *pytest_args)
