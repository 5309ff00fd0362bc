"""Where lineage events and spans go: an HTTP endpoint, a JSON-lines file, or the console.

HTTP failures never lose data: the record is appended to the fallback file instead and the
failure is reported once.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Sink:
    """One destination for JSON records."""

    kind: str  # "http" | "file" | "console" | "none"
    file: Path
    endpoint: str | None = None
    timeout_s: float = 2.0
    unit: str = "records"
    sent: int = 0
    fell_back: int = 0
    errors: list[str] = field(default_factory=list)

    def emit(self, record: dict[str, Any], weight: int = 1) -> None:
        """Send one record; ``weight`` is how many units (e.g. spans) it carries."""
        if self.kind == "none":
            return
        if self.kind == "http" and self.endpoint and not self.errors:
            try:
                self._post(record)
                self.sent += weight
                return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self.errors.append(f"{self.endpoint}: {exc}")
        if self.kind == "console":
            sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
            self.sent += weight
            return
        self._append(record)
        if self.kind == "http":
            self.fell_back += weight
        else:
            self.sent += weight

    def _post(self, record: dict[str, Any]) -> None:
        request = urllib.request.Request(
            str(self.endpoint),
            data=json.dumps(record).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            if response.status >= 300:
                raise ValueError(f"HTTP {response.status}")

    def _append(self, record: dict[str, Any]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with self.file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def describe(self) -> str:
        if self.kind == "none":
            return "disabled"
        if self.kind == "console":
            return f"console ({self.sent} {self.unit})"
        if self.kind == "http":
            text = f"{self.endpoint} ({self.sent} {self.unit} sent)"
            if self.fell_back:
                text += f"; unreachable, {self.fell_back} {self.unit} written to {self.file}"
            return text
        return f"{self.file} ({self.sent} {self.unit})"
