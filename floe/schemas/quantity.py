"""Kubernetes resource quantities (``500m``, ``2``, ``512Mi``, ``1.5Gi``, ``1e9``): parsed
to compare a product's run resources with the platform's maximum, kept as written."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(
    r"^([+]?[0-9]+(?:\.[0-9]*)?|[+]?\.[0-9]+)"
    r"(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$"
)


def parse_quantity(text: str) -> Decimal:
    """The quantity's value in base units (cores, bytes); ValueError if it does not parse
    as a Kubernetes quantity."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity (e.g. 500m or 2 for CPU, 512Mi or 4Gi "
            "for memory)"
        )
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number) * (Decimal(f"1{exponent}") if exponent else _SUFFIX[suffix or ""])
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    return value


def _as_text(value: object) -> object:
    """YAML reads ``cpu: 2`` as a number: a quantity all the same."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _checked(text: str) -> str:
    parse_quantity(text)
    return text


Quantity = Annotated[str, BeforeValidator(_as_text), AfterValidator(_checked)]
