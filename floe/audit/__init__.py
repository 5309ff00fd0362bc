"""Auditing helpers: a local OSV mirror for `nox -s audit -- --advisory-db DIR`."""
