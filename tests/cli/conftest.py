"""CLI test fixtures (defined in tests/clitools.py so test modules can import their types)."""

from tests.clitools import base_env, dashtam, file_backend, home

__all__ = ["base_env", "dashtam", "file_backend", "home"]
