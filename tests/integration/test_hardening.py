"""Concurrency and credentials (issue 6): one compile of a product at a time; no
credential value reaches artifacts, generated code, profiles or logs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from floe.compiler.writer import exclusive_lock
from floe.outputs import LOCK_FILE, compile_and_write
from floe.schemas.versions import COMPILED_ARTIFACTS_VERSION

FLOE = [sys.executable, "-m", "floe.cli"]


def _compile_cmd(spec: Path) -> list[str]:
    return [*FLOE, "platform", "compile", "--spec", str(spec), "--generate-definitions"]


def test_a_second_compile_waits_for_the_product_lock(demo_copy: Path) -> None:
    product = demo_copy / "customer-360"
    with exclusive_lock(product / LOCK_FILE):
        proc = subprocess.Popen(
            _compile_cmd(product / "floe.yaml"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(4)
        assert proc.poll() is None, proc.communicate()[0]  # blocked on the lock
        assert not (product / "compiled_artifacts.json").exists()
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    written = json.loads((product / "compiled_artifacts.json").read_text())
    assert written["version"] == COMPILED_ARTIFACTS_VERSION


def test_concurrent_compiles_of_one_product_leave_valid_output(demo_copy: Path) -> None:
    spec = demo_copy / "iot-telemetry" / "floe.yaml"
    procs = [
        subprocess.Popen(
            _compile_cmd(spec), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    product = spec.parent
    json.loads((product / "compiled_artifacts.json").read_text())
    compile(product.joinpath("definitions.py").read_text(), "definitions.py", "exec")
    assert yaml.safe_load((product / ".floe" / "profiles.yml").read_text())["iot_telemetry"][
        "target"
    ]
    assert json.loads((product / "target" / "manifest.json").read_text())["nodes"]


def test_no_credential_value_reaches_any_output(demo_copy: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    value = "s3cr3t-value-that-must-not-leak"
    monkeypatch.setenv("FLOE_TEST_MINIO_PASSWORD", value)
    manifest = demo_copy / "manifest.yaml"
    text = manifest.read_text().replace(
        "secret_access_key: {secret: {name: floe-demo-credentials, key: minio-root-password}}",
        "secret_access_key: {env: FLOE_TEST_MINIO_PASSWORD}",
    )
    manifest.write_text(text)
    result, written = compile_and_write(
        demo_copy / "customer-360" / "floe.yaml", manifest, generate_definitions=True
    )
    storage = result.artifacts.plugins.storage
    assert storage is not None
    assert storage.config["secret_access_key"] == {"env": "FLOE_TEST_MINIO_PASSWORD"}
    product = demo_copy / "customer-360"
    for path in [*written, *product.joinpath("target").rglob("*")]:
        if path.is_file() and path.suffix != ".duckdb":
            assert value.encode() not in path.read_bytes(), path
