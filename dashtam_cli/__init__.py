"""Dashtam: local-first personal finance for the terminal."""

__version__ = "0.1.0"
