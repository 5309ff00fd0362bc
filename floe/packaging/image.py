"""Building the demo image (docker/dagster-demo/Dockerfile) with python-on-whales.

- The base is the Dockerfile's ``ARG BASE_IMAGE`` default: the one place the image's
  dagster version is stated; ``--base-image`` passes an organisation's mirror instead.
- The build host's pip settings (index URL, extra http(s) indexes, trusted hosts, the
  certificate bundle a TLS-intercepting proxy needs) are staged into the build context's
  ``docker/dagster-demo/pip/`` and used only by the Dockerfile's first stage: none of
  them is left in the image.
- buildx when the engine's client has it, else Docker's classic builder (Debian's
  docker.io ships no buildx plugin); which one ran is said in the output.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from floe.environ import patched_environ
from floe.errors import FloeError, PrerequisiteError
from floe.packaging.context import context_files

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = Path("docker/dagster-demo/Dockerfile")
PIP_SETTINGS_DIR = Path("docker/dagster-demo/pip")
PIP_KEYS = ("index-url", "extra-index-url", "trusted-host", "cert")

Runner = Callable[..., subprocess.CompletedProcess[str]]


def base_image(dockerfile: Path = ROOT / DOCKERFILE) -> str:
    """The default of the Dockerfile's ``ARG BASE_IMAGE`` (dagster/dagster-celery-k8s:1.9.6)."""
    text = dockerfile.read_text(encoding="utf-8")
    match = re.search(r"^ARG\s+BASE_IMAGE=(\S+)\s*$", text, re.MULTILINE)
    if not match:
        raise FloeError(f"{dockerfile}: no 'ARG BASE_IMAGE=<image>:<version>' line")
    return match.group(1)


@dataclass(frozen=True)
class PipSettings:
    """The parts of the host's pip configuration a build can use."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: Path | None = None

    def pip_conf(self, cert_in_build: str = "/tmp/pip/ca.pem") -> str:
        lines = ["[global]"]
        if self.index_url:
            lines.append(f"index-url = {self.index_url}")
        if self.extra_index_urls:
            lines.append("extra-index-url = " + " ".join(self.extra_index_urls))
        if self.trusted_hosts:
            lines.append("trusted-host = " + " ".join(self.trusted_hosts))
        if self.cert:
            lines.append(f"cert = {cert_in_build}")
        return "\n".join(lines) + "\n"

    def uv_env(self, cert_in_build: str = "/tmp/pip/ca.pem") -> str:
        """The same settings for uv, as a shell file to source."""
        lines = []
        if self.index_url:
            lines.append(f"export UV_INDEX_URL={shlex.quote(self.index_url)}")
        if self.extra_index_urls:
            extra = " ".join(self.extra_index_urls)
            lines.append(f"export UV_EXTRA_INDEX_URL={shlex.quote(extra)}")
        if self.trusted_hosts:
            hosts = " ".join(self.trusted_hosts)
            lines.append(f"export UV_INSECURE_HOST={shlex.quote(hosts)}")
        if self.cert:
            lines.append(f"export SSL_CERT_FILE={cert_in_build}")
        return "\n".join(lines) + "\n"

    def describe(self) -> str:
        parts = [f"index {self.index_url or 'default (PyPI)'}"]
        if self.extra_index_urls:
            parts.append(f"{len(self.extra_index_urls)} extra index(es)")
        parts.append(f"certificate bundle {self.cert}" if self.cert else "system certificates")
        return ", ".join(parts)


def _reachable_urls(value: str) -> tuple[str, ...]:
    """http(s) URLs only: a file:// index on the host does not exist inside a build."""
    return tuple(u for u in value.split() if u.startswith(("http://", "https://")))


def host_pip_settings(python: str = sys.executable, runner: Runner = subprocess.run) -> PipSettings:
    """What ``pip config list`` (files and PIP_* environment) says for this host."""
    done = runner(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, sep, raw = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if sep and name in PIP_KEYS:
            # later lines (environment, then more specific files) override earlier ones
            values[name] = raw.strip().strip("'\"")
    cert = Path(values["cert"]) if values.get("cert") else None
    index = _reachable_urls(values.get("index-url", ""))
    return PipSettings(
        index_url=index[0] if index else None,
        extra_index_urls=_reachable_urls(values.get("extra-index-url", "")),
        trusted_hosts=tuple(values.get("trusted-host", "").split()),
        cert=cert if cert and cert.is_file() else None,
    )


def stage_pip_settings(dest: Path, settings: PipSettings) -> None:
    """Write the settings where the Dockerfiles read them (docker/dagster-demo/pip/)."""
    pip_dir = dest / PIP_SETTINGS_DIR
    pip_dir.mkdir(parents=True, exist_ok=True)
    (pip_dir / "pip.conf").write_text(settings.pip_conf(), encoding="utf-8")
    (pip_dir / "uv.env").write_text(settings.uv_env(), encoding="utf-8")
    if settings.cert:
        shutil.copyfile(settings.cert, pip_dir / "ca.pem")


def stage_context(root: Path, dest: Path, settings: PipSettings) -> Path:
    """Copy the build context of ``root`` (as .dockerignore defines it) to ``dest`` and add
    the host's pip settings under docker/dagster-demo/pip/.

    Fails first, naming the product, when a demo product declares dbt packages that are
    not installed beside it: the image runs dbt offline, from what the context holds."""
    require_installed_packages(root / "demo")
    for rel in context_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    stage_pip_settings(dest, settings)
    return dest


def require_installed_packages(demo_dir: Path) -> None:
    from floe.compiler.packages import install_path, packages_installed
    from floe.local.products import MANIFEST_FILE, discover_products

    if not (demo_dir / MANIFEST_FILE).is_file():
        return
    missing = [p for p in discover_products(demo_dir) if not packages_installed(p)]
    if missing:
        raise BuildError(
            "dbt packages declared but not installed: "
            + ", ".join(f"{p.name} ({install_path(p).name}/)" for p in missing),
            hint="floe compile --platform-dir demo installs them (dbt deps); "
            "the image carries each product's installed packages",
        )


def has_buildx(runner: Runner = subprocess.run) -> bool:
    try:
        done = runner(["docker", "buildx", "version"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    return done.returncode == 0


def build(
    context: Path,
    tags: Sequence[str],
    *,
    dockerfile: Path = DOCKERFILE,
    build_args: Mapping[str, str] | None = None,
    platform: str | None = None,
    echo: Callable[[str], None] = print,
) -> str:
    """Build ``context`` with buildx or, without it, the classic builder; the image id.

    RUN steps use the host's network (pip reaches the index as the host does)."""
    from python_on_whales import DockerException, docker

    args = dict(build_args or {})
    try:
        if has_buildx():
            echo("builder: docker buildx")
            docker.build(
                context_path=context,
                file=context / dockerfile,
                tags=list(tags),
                build_args=args,
                platforms=[platform] if platform else None,
                network="host",
                load=True,
            )
            image = docker.image.inspect(tags[0])
        else:
            echo("builder: Docker's classic builder (no buildx plugin on this client)")
            with patched_environ({"DOCKER_BUILDKIT": "0"}):
                image = docker.legacy_build(
                    context_path=context,
                    file=context / dockerfile,
                    tags=list(tags),
                    build_args=args,
                    network="host",
                    quiet=False,
                )
    except DockerException as exc:
        raise BuildError(
            f"docker build of {dockerfile} failed (exit {exc.return_code})",
            details=[line for line in (exc.stderr or "").strip().splitlines()[-15:]],
        ) from exc
    return str(image.id)


class BuildError(FloeError):
    """An image build failed."""

    code = "FLOE801"
    exit_code = 6


def require_engine(runner: Runner = subprocess.run) -> str:
    """The engine's version; PrerequisiteError when no engine answers."""
    if shutil.which("docker") is None:
        raise PrerequisiteError(
            "docker: not found on PATH",
            hint="install Docker Engine (on Debian: apt-get install docker.io) and start it",
        )
    done = runner(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0 or not done.stdout.strip():
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no answer"]
        raise PrerequisiteError(
            f"docker: the Docker engine is not reachable ({detail[0]})",
            hint="start dockerd, or set DOCKER_HOST to a running engine's socket "
            "(.ci/with-docker-engine starts a private one as root on Debian)",
        )
    return done.stdout.strip()
