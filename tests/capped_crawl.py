"""``ingest`` with every writable connection capped at PAGES pages: a full disk, simulated.

``PRAGMA max_page_count`` is per connection, so it cannot be set on a crawl from outside; this
runs the real command line in a fresh process with ``open_db`` wrapped to set it. SQLite then
fails a write that needs a page more with ``database or disk is full`` (SQLITE_FULL), as on a
full disk, without a tmpfs or loop device. Used by tests/test_storage_faults.py:

    python -m tests.capped_crawl PAGES crawl rbc --db DB ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlite_utils

import ingest.store.db
import ingest.store.dbfaults
from ingest.cli import cli


def main() -> None:
    pages = int(sys.argv[1])
    real_open_db = ingest.store.db.open_db

    def capped(
        path: str | Path | None = None, *, read_only: bool = False, busy_timeout: float = 30.0
    ) -> sqlite_utils.Database:
        db = real_open_db(path, read_only=read_only, busy_timeout=busy_timeout)
        if not read_only:
            db.execute(f"PRAGMA max_page_count = {pages:d}")
        return db

    # Every module that opens the crawl's database, by the name it imported (the crawl's one
    # writer connection: ingest/store/dbfaults.py).
    for module in (ingest.store.db, ingest.store.dbfaults):
        module.open_db = capped  # type: ignore[attr-defined]
    cli(sys.argv[2:], prog_name="ingest")


if __name__ == "__main__":
    main()
