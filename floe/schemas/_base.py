"""Shared model bases and constrained types."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

EnforcementLevel = Literal["off", "warn", "strict"]
ENFORCEMENT_ORDER: dict[str, int] = {"off": 0, "warn": 1, "strict": 2}

# A product name: lower-case words joined by "-" or "_"; safe as a path segment and,
# with "-" turned into "_", as a Python module name.
ProductName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$", max_length=63)
]
# A dbt model name: a SQL/Python identifier.
ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$", max_length=127)]
SemVer = Annotated[
    str, StringConstraints(pattern=r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)]


class FrozenModel(BaseModel):
    """Immutable, rejects unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def stricter(*levels: str | None) -> str | None:
    """The strictest of the given enforcement levels (None when all are None)."""
    present = [lvl for lvl in levels if lvl is not None]
    if not present:
        return None
    return max(present, key=lambda lvl: ENFORCEMENT_ORDER[lvl])


_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    """Whether a config key names a credential."""
    return bool(_SECRET_KEY.search(key))


class SecretReference(FrozenModel):
    """Where a credential comes from at run time: an environment variable or a K8s Secret."""

    env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    secret: dict[Literal["name", "key"], str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretReference:
        if (self.env is None) == (self.secret is None):
            raise ValueError("a secret reference names exactly one of 'env' or 'secret'")
        if self.secret is not None and set(self.secret) != {"name", "key"}:
            raise ValueError("a 'secret' reference needs both 'name' and 'key'")
        return self
