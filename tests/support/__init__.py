"""Helpers shared by golive's own tests (the tests themselves sit in folders mirroring the code)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
