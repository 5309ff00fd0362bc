"""The floe compiler: load, resolve, enforce, build, write."""
