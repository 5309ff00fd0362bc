"""Pydantic models for floe's three documents; imports nothing else of floe."""

from floe.schemas.artifacts import CompiledArtifacts
from floe.schemas.manifest import PlatformManifest
from floe.schemas.spec import FloeSpec
from floe.schemas.versions import COMPILED_ARTIFACTS_VERSION

__all__ = ["COMPILED_ARTIFACTS_VERSION", "CompiledArtifacts", "FloeSpec", "PlatformManifest"]
