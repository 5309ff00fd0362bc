"""Bodies of the nox sessions (plain functions taking a nox Session)."""
