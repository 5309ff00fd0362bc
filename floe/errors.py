"""Errors floe reports to users.

Every user-facing failure is a :class:`FloeError` subclass carrying a stable ``code``, the
file, line and column it concerns, and what was expected and found.  The CLI prints
``str(error)`` (one or two lines) and exits with the class's ``exit_code``; no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """A place in a source file (1-based line and column; 0 when unknown)."""

    file: Path | None = None
    line: int = 0
    column: int = 0
    field_path: str = ""

    def __str__(self) -> str:
        parts = [str(self.file) if self.file else "<input>"]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        text = ":".join(parts)
        return f"{text} [{self.field_path}]" if self.field_path else text


@dataclass
class FloeError(Exception):
    """Base of every error floe reports to a user."""

    message: str
    location: Location | None = None
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    code = "FLOE000"
    exit_code = 1

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable (parallel compiles send errors back from worker processes)."""
        return (
            self.__class__,
            (self.message, self.location, self.expected, self.found, self.hint, self.details),
        )

    def __str__(self) -> str:
        head = (
            f"{self.code} {self.location}: {self.message}"
            if self.location
            else (f"{self.code} {self.message}")
        )
        extra: list[str] = []
        if self.expected is not None:
            extra.append(f"expected {self.expected}")
        if self.found is not None:
            extra.append(f"found {self.found}")
        if self.hint:
            extra.append(self.hint)
        lines = [head]
        if extra:
            lines.append("  " + "; ".join(extra))
        lines.extend(f"  {d}" for d in self.details)
        return "\n".join(lines)


class ConfigFileNotFound(FloeError):
    """An input file does not exist or cannot be read."""

    code = "FLOE100"
    exit_code = 3


class ConfigSyntaxError(FloeError):
    """The YAML itself is malformed (or has duplicate keys)."""

    code = "FLOE101"
    exit_code = 4


class ConfigValidationError(FloeError):
    """The YAML parsed but does not match the schema."""

    code = "FLOE102"
    exit_code = 4


class UnsafeNameError(FloeError):
    """A product or model name cannot be used safely in paths or generated code."""

    code = "FLOE103"
    exit_code = 4


class SecretLiteralError(FloeError):
    """A credential was written as a literal instead of a reference."""

    code = "FLOE104"
    exit_code = 4


class LineageMismatchError(FloeError):
    """floe.yaml transforms disagree with the dbt project's graph."""

    code = "FLOE200"
    exit_code = 5


class DbtError(FloeError):
    """dbt failed (parse, compile or run)."""

    code = "FLOE300"
    exit_code = 6


class PolicyViolationError(FloeError):
    """Governance in strict mode found violations; nothing was written."""

    code = "FLOE400"
    exit_code = 7


class PrerequisiteError(FloeError):
    """A tool or service the command needs is missing or unreachable."""

    code = "FLOE500"
    exit_code = 8


class OutputError(FloeError):
    """An output file could not be written."""

    code = "FLOE600"
    exit_code = 9


class UnhealthyError(FloeError):
    """One or more platform services failed their health check."""

    code = "FLOE700"
    exit_code = 10


class ContractError(FloeError):
    """A data contract (datacontract.yaml) is not a valid ODCS v3 document floe can check."""

    code = "FLOE105"
    exit_code = 4


class InputError(FloeError):
    """A product's input (another product's published table) does not resolve."""

    code = "FLOE106"
    exit_code = 4


class ContractVersionError(FloeError):
    """A contract change without the version bump it needs (a breaking change: a new major)."""

    code = "FLOE410"
    exit_code = 11


class LakehouseError(FloeError):
    """The catalog or a publication failed; the message names the table and column."""

    code = "FLOE900"
    exit_code = 6


class ContractViolation(LakehouseError):
    """The data about to be published breaks its contract; the table keeps its snapshot."""

    code = "FLOE910"
