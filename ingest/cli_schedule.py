"""``ingest`` commands for schedule (registered on the group in ingest.cli)."""

from __future__ import annotations

from ingest.cli import cli

__all__ = ["cli"]
