"""Fixtures shared by integration test modules (the session-wide broker and database are in tests/conftest.py)."""

from __future__ import annotations

from tests.integration.reporting_world import reporting

__all__ = ["reporting"]
