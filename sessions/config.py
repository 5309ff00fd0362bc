"""Constants the sessions share: one place for each name."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"
DEMO_DIR = ROOT / "demo"
IMAGE_REQUIREMENTS = ROOT / "docker" / "dagster-demo" / "requirements.txt"
