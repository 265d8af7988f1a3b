"""Commands: frozen, kw_only dataclasses, one per state-changing use case (imperative names)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class InitializeWorkspace:
    """``dashtam init``: directories, database schema and data key (idempotent)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class UpgradeDatabase:
    """``dashtam db upgrade``: apply pending schema migrations."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RotateKeys:
    """``dashtam keys rotate``: re-encrypt every stored secret under a new data key."""
