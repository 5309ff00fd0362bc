"""The local, embedded path: compile every demo product and run it in-process on DuckDB."""
