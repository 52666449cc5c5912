"""The database: schema declared once as ordered migrations, and the only way to open it."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import Table

from ingest.store.schema import DB_ENVVAR as DB_ENVVAR  # re-exported: ingest/cli/__init__.py
from ingest.store.schema import DEFAULT_DB

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


@migrations()
def m002_seen_and_revisions(db: sqlite_utils.Database) -> None:
    """What the last fetch of each article URL returned (for incremental crawls), and the
    versions an article had before its text changed."""
    db.table("seen").create(
        {
            "url": str,  # the URL as requested (articles.url or articles.fetched_url)
            "site": str,
            "status": int,  # HTTP status of the last check (304 = unchanged)
            "etag": str,
            "last_modified": str,  # the Last-Modified header, verbatim
            "lastmod": str,  # newest change date a feed/sitemap gave, ISO 8601 UTC
            "body_hash": str,  # sha256 of the last downloaded bytes
            "fetched_at": str,  # last download of a body
            "checked_at": str,  # last question to the server (200 or 304)
        },
        pk="url",
        not_null={"checked_at"},
    )
    db.table("seen").create_index(["site"])
    # The incremental check looks an article up by the URL it was requested with.
    db.table("articles").create_index(["fetched_url"])
    revisions = db.table("revisions")
    revisions.create(
        {
            "id": int,
            "article_url": str,
            "body_hash": str,
            "title": str,
            "body": str,
            "body_html": str,
            "modified": str,
            "fetched_at": str,  # when this (now superseded) version was fetched
            "run_id": str,
            "revised_at": str,  # when the newer version replaced it
        },
        pk="id",
        foreign_keys=[("article_url", "articles", "url")],
    )
    revisions.create_index(["article_url"])


class NotOurDatabase(sqlite3.DatabaseError):
    """The file is not one of our databases, or a newer version of news-ingest wrote it: it is
    refused before anything is written to it."""


def check_database(path: Path) -> None:
    """Refuse (``NotOurDatabase``), reading only, a file that is not an SQLite database, one
    that holds tables but none of our migrations, or one with migrations this version does not
    know (written by a newer news-ingest). A missing or empty file is a new database."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
        applied: set[str] = set()
        if "_sqlite_migrations" in tables:
            applied = {
                r[0]
                for r in conn.execute(
                    "select name from _sqlite_migrations where migration_set = ?",
                    [migrations.name],
                )
            }
    except sqlite3.DatabaseError as exc:
        raise NotOurDatabase(
            f"{path} is not a news-ingest database ({exc}); it was left untouched"
        ) from exc
    finally:
        conn.close()
    if tables and not applied:
        raise NotOurDatabase(
            f"{path} is an SQLite database but not a news-ingest one (no '{migrations.name}' "
            "migrations); it was left untouched"
        )
    unknown = applied - {m.name for m in migrations._migrations}
    if unknown:
        raise NotOurDatabase(
            f"{path} was written by a newer news-ingest (migrations {', '.join(sorted(unknown))}"
            "); upgrade news-ingest to open it. It was left untouched"
        )


def reindex(db: sqlite_utils.Database) -> int:
    """Rebuild the search index (``articles_search``) from the stored articles, in one
    transaction, with progress on a terminal; the articles indexed. Nothing else is written."""
    from ingest.store.search_index import rebuild_index, terminal_progress

    with db.atomic():
        return rebuild_index(db.conn, terminal_progress())


@contextmanager
def immediate_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if the block
    raises. Every writer transaction that upserts through sqlite-utils opens with it.

    Not ``db.atomic()``, a deferred ``BEGIN``: with other connections writing the file, a
    deferred transaction that has read gets "database is locked" at once (SQLite does not wait
    out the busy timeout for it) on its first write. sqlite-utils' first upsert on a
    connection probes ``ON CONFLICT`` support by writing (``Database.supports_on_conflict``),
    takes that error for an old SQLite, caches the answer, and from then on upserts by
    ``INSERT OR IGNORE`` + ``UPDATE``, which silently skips new rows with NOT NULL columns
    (``articles.site``, ``seen.checked_at``). ``BEGIN IMMEDIATE`` takes the write lock before
    anything is read, waiting out the busy timeout, so nothing inside can be refused it; the
    probe runs here, under the lock, and a False answer is an error, never a silent fallback.
    Inside, sqlite-utils' own ``atomic()`` blocks are savepoints and its ``execute()`` commits
    nothing."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not db.supports_on_conflict:
            raise RuntimeError(
                "sqlite-utils found no INSERT ... ON CONFLICT support; its fallback upsert "
                "would skip new rows with NOT NULL columns"
            )
        yield db
    except BaseException:
        db.rollback()
        raise
    try:
        db.commit()
    except BaseException:
        db.rollback()
        raise


def default_db_path() -> Path:
    """``$INGEST_DB`` when set, else ``DEFAULT_DB`` (``data/news.db``) under the working
    directory."""
    return Path(os.environ.get(DB_ENVVAR) or DEFAULT_DB)


def open_db(
    path: str | Path | None = None, *, read_only: bool = False, busy_timeout: float = 30.0
) -> sqlite_utils.Database:
    """Open (creating and migrating when writable) the database at ``path``.

    ``busy_timeout``: seconds a statement waits for another connection's lock before SQLite
    gives up with "database is locked" (a crawl sets ``INGEST_DB_BUSY_TIMEOUT``, see
    ``ingest/store/dbfaults.py``).

    Read-only connections use SQLite's ``mode=ro`` URI and ``query_only``, so no statement
    sent through them can change the file.
    """
    db_path = Path(path) if path is not None else default_db_path()
    if read_only:
        if not db_path.exists():
            raise FileNotFoundError(f"no database at {db_path}")
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA query_only = ON")
            # SQLite reads the file lazily: "file is not a database" now, not mid-command.
            conn.execute("select count(*) from sqlite_master").fetchone()
        except sqlite3.Error:
            conn.close()
            raise
        return sqlite_utils.Database(conn)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # Under the lock: a database another process is creating is not taken for a foreign one.
    with _first_open_lock(db_path):
        check_database(db_path)  # before the journal mode or a migration touches the file
        # Any thread may use the connection, one at a time: a crawl opens its writer connection
        # and hands it to the writer thread (ingest/store/dbfaults.py, DbWriter).
        db = sqlite_utils.Database(sqlite3.connect(db_path, check_same_thread=False))
        try:
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            db.enable_wal()
            # WAL + NORMAL: a commit is not fsynced (checkpoints are); the file stays
            # consistent, and a power cut can lose only the last batches, which the next crawl
            # fetches again. FULL spent ~13 ms per batch commit in fsync, half the storage
            # path's time.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            migrations.apply(db)
        except BaseException:
            db.close()
            raise
    return db


@contextmanager
def _first_open_lock(db_path: Path) -> Iterator[None]:
    """Hold ``<db>.lock`` (an OS lock, freed when its holder dies) while the file is checked,
    the journal mode set and migrations run: two processes opening a new database at once both
    found every migration pending, and the second failed with "database is locked" or "table
    articles already exists". The first applies them; the next finds none pending. A folder
    where the lock file cannot be made is one where the database cannot be written either, so
    SQLite then gives the error."""
    resolved = db_path.resolve()  # two spellings of one file share one lock
    lock = resolved.with_name(resolved.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def articles(db: sqlite_utils.Database) -> Table:
    """The articles table, typed as a Table (``db["articles"]`` is ``Table | View``)."""
    return db.table("articles")


@migrations()
def m003_feed_entry(db: sqlite_utils.Database) -> None:
    """What the feed, sitemap or WARC file that led to an article said of it (issue 3), kept
    beside the page's own title and date so the two can be cross-checked."""
    articles = db.table("articles")
    for column in ("source", "feed_title", "feed_published_raw", "feed_published", "feed_language"):
        if column not in articles.columns_dict:
            articles.add_column(column, str)


@migrations()
def m004_text_quality(db: sqlite_utils.Database) -> None:
    """What the normalise pipeline found in an article's text: U+FFFD left after decoding and
    repairs, and its flags (JSON list: mojibake_fixed, control_chars, replacement_chars)."""
    articles = db.table("articles")
    articles.add_column("replacement_chars", int, not_null_default=0)
    articles.add_column("flags", str)


@migrations()
def m005_fts_automerge(db: sqlite_utils.Database) -> None:
    """FTS5 merges index segments once 16 share a level (its maximum), not 4: far less
    rewriting of the index per stored article (SQLite's time per stored article 0.18 -> 0.145
    ms, pipeline_bench storage micro-benchmark), for more segments per search to read (a few
    dozen probes on a million articles: still well under a millisecond; ``insert into
    articles_fts(articles_fts) values ('optimize')`` merges them all). Kept in the FTS config."""
    db.execute("insert into articles_fts(articles_fts, rank) values ('automerge', 16)")


@migrations()
def m006_modified_source(db: sqlite_utils.Database) -> None:
    """Where ``modified`` came from (json-ld, meta), as ``published_source`` says for published."""
    db.table("articles").add_column("modified_source", str)


@migrations()
def m007_extraction_source(db: sqlite_utils.Database) -> None:
    """How each article's body and title were found (site, json-ld, generic, fallback, ...):
    provenance per article, so a drop in a site's own share shows a layout change."""
    articles = db.table("articles")
    for column in ("body_source", "title_source"):
        if column not in articles.columns_dict:
            articles.add_column(column, str)


@migrations()
def m008_canonical_declared(db: sqlite_utils.Database) -> None:
    """The canonical URL a page named when its row is not keyed by it (another site's, or
    another article's: issue 10), kept as the record of what the page claimed."""
    articles = db.table("articles")
    if "canonical_declared" not in articles.columns_dict:
        articles.add_column("canonical_declared", str)


@migrations()
def m009_search_index(db: sqlite_utils.Database) -> None:
    """The morphology-aware index (issue 12): ``articles_search``, an ordinary FTS5 table
    (unicode61) of analysed terms, one per word (lemmas for uk/ru, Snowball stems, lower
    case), built here from the stored articles and written by our storage code from then on
    (no trigger: the analysis is our code). ``articles`` and ``articles_fts`` (exact words,
    for clients without our code) are read, never rewritten."""
    from ingest.store.search_index import create_index, rebuild_index, terminal_progress

    create_index(db.conn)
    rebuild_index(db.conn, terminal_progress())


@migrations()
def m010_runs_crawl_id(db: sqlite_utils.Database) -> None:
    """The crawl a run belongs to when one crawl is shared by several processes (issue 13):
    each frontier worker's run and the writer's share it (ingest/crawl/frontier.py)."""
    runs = db.table("runs")
    if "crawl_id" not in runs.columns_dict:
        runs.add_column("crawl_id", str)
