"""Generated files are written atomically: an error mid-write leaves the old file (issue 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from floe import atomic as writer
from floe.compiler.writer import write_all_atomic, write_atomic
from floe.errors import OutputError


def test_error_mid_write_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "definitions.py"
    target.write_text("old = 1\n")

    def broken_fsync(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.os, "fsync", broken_fsync)
    with pytest.raises(OutputError, match="no space left on device"):
        write_atomic(target, "new = 2\n" * 10_000)
    assert target.read_text() == "old = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["definitions.py"]


def test_interrupt_mid_write_leaves_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "compiled_artifacts.json"
    target.write_text('{"old": true}\n')
    real_replace = os.replace

    def interrupted(_src: str, _dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, '{"new": true}\n')
    monkeypatch.setattr(writer.os, "replace", real_replace)
    assert target.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["compiled_artifacts.json"]


def test_write_into_unwritable_directory_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("file")
    with pytest.raises(OutputError) as info:
        write_atomic(blocker / "profiles.yml", "x")
    assert info.value.exit_code == 9


def test_write_all_replaces_each_file_whole(tmp_path: Path) -> None:
    files = {tmp_path / "a.txt": "A" * 100_000, tmp_path / "sub" / "b.txt": "B"}
    write_all_atomic(files)
    assert {p: p.read_text() for p in files} == files


def test_new_files_are_readable_by_other_users(tmp_path: Path) -> None:
    """Issue 12: generated files are imported by the image's run user, not their owner;
    a new file gets 0o666 less the umask (0o644 under the usual 022), not mkstemp's 0o600."""
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "definitions.py", "defs = None\n")
    finally:
        os.umask(old)
    assert (tmp_path / "definitions.py").stat().st_mode & 0o777 == 0o644


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "profiles.yml"
    target.write_text("old: 1\n")
    target.chmod(0o640)
    write_atomic(target, "new: 2\n")
    assert target.stat().st_mode & 0o777 == 0o640
    assert target.read_text() == "new: 2\n"
