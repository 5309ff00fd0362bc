"""Code generation from CompiledArtifacts (deterministic, templates as files)."""
