"""What a local run shows while products build: each product's dbt nodes done out of
its total, as dbt finishes them.

On a terminal, a live table (the ``rich`` library the stack already has), with each
product's summary block printed above it as the product finishes; elsewhere (a pipe, a
CI log, or CI set) one plain line per node.  Notes go to the stream standard output was
when the view opened: a product running in this process sends its own output to its
run log meanwhile.  Workers send their notes through a queue; one thread
of the main process prints them, under the same lock as the summary blocks, so a block
is never split.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from floe.runtime.observe.progress import Progress

Say = Callable[[str], None]


def wants_live(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


class ProgressView:
    """Use as a context manager; ``note`` a Progress, ``say`` a summary block."""

    def __init__(self, say: Say, live: bool | None = None, stream: TextIO | None = None) -> None:
        self._say = say
        self._lock = threading.Lock()
        # bound now: while a product runs in this process, sys.stdout is its run log
        self._stream = stream or sys.stdout
        self._live_wanted = wants_live(self._stream) if live is None else live
        self._live: Any = None
        self._rows: dict[str, Progress] = {}
        self._finished: set[str] = set()

    def __enter__(self) -> ProgressView:
        if self._live_wanted:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self._stream, force_terminal=True)
            self._live = Live(
                self._table(),
                console=console,
                refresh_per_second=8,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def _table(self) -> Any:
        """One line per running product, cut to the terminal's width."""
        from rich.console import Group
        from rich.text import Text

        width = self._live.console.width if self._live is not None else 80
        names = max((len(product) for product in self._rows), default=0)
        lines = []
        for product, p in sorted(self._rows.items()):
            share = p.done / p.total if p.total else 0.0
            bar = "#" * int(share * 20)
            line = Text(
                f"{product:<{names}}  [{bar:<20}] {p.done:>4}/{p.total:<4} "
                f"{p.kind} {p.name} {p.status}",
                no_wrap=True,
                overflow="ellipsis",
            )
            line.truncate(max(width - 1, 20), overflow="ellipsis")
            lines.append(line)
        return Group(*lines)

    def note(self, progress: Progress) -> None:
        with self._lock:
            if progress.product in self._finished:  # a late note of a finished product
                return
            if self._live is not None:
                self._rows[progress.product] = progress
                self._live.update(self._table())
            else:
                self._stream.write(progress.line() + "\n")
                self._stream.flush()

    def say(self, text: str) -> None:
        with self._lock:
            self._print(text)

    def finished(self, product: str, text: str) -> None:
        """``product``'s summary block: its progress row goes, no later note shows."""
        with self._lock:
            self._finished.add(product)
            self._rows.pop(product, None)
            self._print(text)

    def _print(self, text: str) -> None:
        if self._live is not None:
            self._live.update(self._table(), refresh=True)
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self._say(text)
