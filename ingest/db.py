"""The database: schema declared once as ordered migrations, and the only way to open it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import Table

DEFAULT_DB = Path("data") / "news.db"
DB_ENVVAR = "INGEST_DB"

migrations = sqlite_utils.Migrations("ingest")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    """Articles with FTS5 kept in sync by triggers, their images, translations and runs."""
    articles = db.table("articles")
    articles.create(
        {
            "url": str,
            "site": str,
            "lang": str,
            "lang_confidence": float,
            "lang_declared": str,
            "title": str,
            "lead": str,
            "body": str,
            "body_html": str,
            "body_hash": str,
            "published": str,
            "published_raw": str,
            "published_source": str,
            "modified": str,
            "modified_raw": str,
            "authors": str,  # JSON list
            "section": str,
            "tags": str,  # JSON list
            "story_id": str,
            "alternates": str,  # JSON object hreflang -> URL
            "fetched_url": str,
            "fetched_at": str,
            "run_id": str,
        },
        pk="url",
        not_null={"site", "fetched_at"},
    )
    for columns in (["published"], ["lang"], ["site"], ["story_id"], ["body_hash"]):
        articles.create_index(columns)
    # Triggers keep the index in step with every insert, update and delete; sqlite-utils' upsert
    # updates in place (ON CONFLICT DO UPDATE), so the "au" trigger sees every change.
    articles.enable_fts(["title", "lead", "body"], create_triggers=True)

    db.table("images").create(
        {
            "article_url": str,
            "position": int,
            "src": str,
            "caption": str,
            "credit": str,
        },
        pk=("article_url", "position"),
        foreign_keys=[("article_url", "articles", "url")],
    )
    db.table("translations").create(
        {"story_id": str, "lang": str, "url": str},
        pk=("story_id", "lang"),
    )
    db.table("runs").create(
        {
            "id": str,
            "spider": str,
            "trigger": str,
            "args": str,  # JSON object of spider arguments
            "started_at": str,
            "finished_at": str,
            "finish_reason": str,
            "stats": str,  # JSON of the crawl's Scrapy stats
        },
        pk="id",
    )


def default_db_path() -> Path:
    """``$INGEST_DB`` when set, else ``data/news.db`` under the working directory."""
    return Path(os.environ.get(DB_ENVVAR) or DEFAULT_DB)


def open_db(path: str | Path | None = None, *, read_only: bool = False) -> sqlite_utils.Database:
    """Open (creating and migrating when writable) the database at ``path``.

    Read-only connections use SQLite's ``mode=ro`` URI and ``query_only``, so no statement
    sent through them can change the file.
    """
    db_path = Path(path) if path is not None else default_db_path()
    if read_only:
        if not db_path.exists():
            raise FileNotFoundError(f"no database at {db_path}")
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("PRAGMA query_only = ON")
        return sqlite_utils.Database(conn)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(db_path)
    db.enable_wal()
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    return db


def articles(db: sqlite_utils.Database) -> Table:
    """The articles table, typed as a Table (``db["articles"]`` is ``Table | View``)."""
    return db.table("articles")
