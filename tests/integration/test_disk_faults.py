"""Issue 28 point 3: full and read-only disks, for real: a small tmpfs filled to the last
byte (ENOSPC) and a read-only bind mount (EROFS), under the real CLI.

Each fault: a clear error naming the path and what was being written, no traceback,
exit non-zero, floe's previous outputs byte-identical, no temp file left; and once the
disk is fixed, the next command works with no clean-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe.product_files import ARTIFACTS_FILE, DEFINITIONS_FILE, PROFILES_FILE
from floe.runtime.publish.catalog import LAKEHOUSE_DIR_ENV, local_target, open_catalog
from tests.conftest import floe_cli
from tests.integration.test_byo_project import make_platform

PRODUCT = "jaffle"
OUTPUTS = (ARTIFACTS_FILE, DEFINITIONS_FILE, PROFILES_FILE)
SIZE_MB = 16


def _mounts() -> list[str]:
    with open("/proc/mounts", encoding="utf-8") as handle:
        return [line.split()[1] for line in handle]


def _mount(*argv: str) -> None:
    done = subprocess.run(["mount", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:  # not root, or no mount(8): the fault cannot be made here
        pytest.skip(f"cannot mount ({' '.join(argv)}): {done.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh tmpfs of SIZE_MB MiB, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount))
    try:
        yield mount
    finally:
        _umount(mount)


def fill(mount: Path) -> None:
    """Take every free byte of the tmpfs at ``mount`` (never another file system)."""
    assert str(mount) in _mounts(), f"{mount} is not a mount point"
    stat = os.statvfs(mount)
    assert stat.f_blocks * stat.f_frsize <= SIZE_MB * 2**20  # only ever the small tmpfs
    with open(mount / "ballast", "wb") as ballast:
        os.posix_fallocate(ballast.fileno(), 0, stat.f_bavail * stat.f_frsize)
    assert os.statvfs(mount).f_bavail == 0


def free(mount: Path) -> None:
    (mount / "ballast").unlink()


def _digests(product: Path) -> dict[str, str]:
    return {rel: hashlib.sha256((product / rel).read_bytes()).hexdigest() for rel in OUTPUTS}


def _temps(root: Path) -> list[Path]:
    return sorted(root.rglob(".*.tmp"))


def _compiled(root: Path) -> Path:
    platform = make_platform(root / "platform")
    assert floe_cli(platform, "init", PRODUCT, "--owner", "shop@example.com").returncode == 0
    done = floe_cli(platform, "compile", "--platform-dir", ".")
    assert done.returncode == 0, done.stderr
    return platform


def _assert_clear(done: subprocess.CompletedProcess[str], code: int, *says: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == code, out
    for text in says:
        assert text in out, out
    assert "Traceback" not in out and "Logging error" not in out, out


def test_a_compile_on_a_full_disk_names_the_path_and_keeps_the_outputs(disk: Path) -> None:
    """ENOSPC while compiling: exit 9 naming the path, the previous outputs kept."""
    platform = _compiled(disk)
    product = platform / PRODUCT
    before = _digests(product)
    fill(disk)
    done = floe_cli(platform, "compile", "--platform-dir", ".", "--force")
    _assert_clear(done, 9, "FLOE600", f"({product / 'target'}", "no space left on device")
    assert _digests(product) == before
    assert _temps(disk) == []
    free(disk)
    done = floe_cli(platform, "compile", "--platform-dir", ".")  # no clean-up first
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((product / ARTIFACTS_FILE).read_text())["metadata"]["product_name"]


def test_a_compile_of_a_read_only_product_names_the_path(tmp_path: Path) -> None:
    """EROFS while compiling: a read-only bind mount of the product directory."""
    platform = _compiled(tmp_path)
    product = platform / PRODUCT
    before = _digests(product)
    _mount("--bind", str(product), str(product))
    try:
        _mount("-o", "remount,bind,ro", str(product))
        done = floe_cli(platform, "compile", "--platform-dir", ".", "--force")
    finally:
        _umount(product)
    _assert_clear(done, 9, "FLOE600", f"({product / 'target'}", "read-only file system")
    assert _digests(product) == before
    done = floe_cli(platform, "compile", "--platform-dir", ".", "--force")
    assert done.returncode == 0, done.stdout + done.stderr


def _warehouse_files(lakehouse: Path) -> dict[str, int]:
    return {
        str(path.relative_to(lakehouse)): path.stat().st_size
        for path in lakehouse.rglob("*")
        if path.is_file() and path.name != "catalog.db"
    }


def _rows(lakehouse: Path, table: str) -> tuple[int, int]:
    """(snapshot id, rows) of ``table`` on main, read back afresh from the catalog."""
    loaded = open_catalog(local_target(lakehouse)).load_table(table)
    snapshot = loaded.current_snapshot()
    assert snapshot is not None
    return snapshot.snapshot_id, loaded.scan().to_arrow().num_rows


def test_a_publication_on_a_full_disk_keeps_main_and_leaves_no_partial_file(
    disk: Path, tmp_path: Path
) -> None:
    """ENOSPC while publishing: the lakehouse on the full tmpfs, the rest elsewhere."""
    platform = _compiled(tmp_path)
    lakehouse = disk / "lakehouse"
    env = {LAKEHOUSE_DIR_ENV: str(lakehouse)}
    done = floe_cli(platform, "run", "--platform-dir", ".", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    published = _rows(lakehouse, "jaffle.customers")
    files = _warehouse_files(lakehouse)
    fill(disk)
    done = floe_cli(platform, "run", "--platform-dir", ".", **env)
    location = (lakehouse / "warehouse" / "jaffle" / "customers").as_uri()
    _assert_clear(
        done,
        6,
        f"cannot write jaffle.customers to {location} (its Iceberg data files): "
        "no space left on device; main keeps its committed snapshot",
    )
    assert _rows(lakehouse, "jaffle.customers") == published
    assert _warehouse_files(lakehouse) == files  # no partial or orphaned data file
    free(disk)
    done = floe_cli(platform, "run", "--platform-dir", ".", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _rows(lakehouse, "jaffle.customers")[0] != published[0]
    shutil.rmtree(lakehouse)
