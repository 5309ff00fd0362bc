"""Property: any manifest or floe.yaml, however mangled, loads or fails with a located
FloeError - never another exception (issue 6)."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floe.compiler.loader import load_manifest, load_spec
from floe.errors import FloeError
from tests.conftest import CUSTOMER_SPEC, DEMO_MANIFEST, customer_spec_data, demo_manifest_data

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(["", "~", "..", "../../etc", "strict", "1.0.0", "*"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict) -> dict:
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
    return data


def _check(loader: Any, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            loader(path)
        except FloeError as error:
            assert error.location is not None and error.location.file == path
            assert str(error)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(mutated(demo_manifest_data()))
def test_mutated_manifests_load_or_fail_with_a_location(data: dict) -> None:
    _check(load_manifest, yaml.safe_dump(data, allow_unicode=True))


@SETTINGS
@given(mutated(customer_spec_data()))
def test_mutated_specs_load_or_fail_with_a_location(data: dict) -> None:
    _check(load_spec, yaml.safe_dump(data, allow_unicode=True))


@SETTINGS
@given(st.data())
def test_corrupted_yaml_text_loads_or_fails_with_a_location(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from([DEMO_MANIFEST, CUSTOMER_SPEC]))
    text = source.read_text(encoding="utf-8")
    position = data.draw(st.integers(0, len(text)))
    junk = data.draw(
        st.text(alphabet=st.sampled_from(list(":-{}[]&*!|>'\"%@`#,?\t\n ab1")), max_size=8)
    )
    cut = data.draw(st.integers(0, 5))
    loader = load_manifest if source == DEMO_MANIFEST else load_spec
    _check(loader, text[:position] + junk + text[position + cut :])
