"""``ingest db``: where the database is, what it holds, and rebuilding its search index."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ingest.cli.common import db_option, open_existing, summary_lines
from ingest.store.db import default_db_path, open_db


@click.group(name="db")
def db_group() -> None:
    """Where the database is and what it holds.

    Example: ingest db stats
    """


@db_group.command(name="path")
@db_option
def db_path_command(db_path: Path | None) -> None:
    """Print the database path in use.

    Example: INGEST_DB=/tmp/x.db ingest db path
    """
    click.echo(str((db_path or default_db_path()).resolve()))


@db_group.command(name="stats")
@db_option
def db_stats(db_path: Path | None) -> None:
    """Counts per table, articles per language, the last run's drops.

    Example: ingest db stats --db data/demo.db
    """
    db = open_existing(db_path)
    last = db.execute("select stats from runs order by started_at desc limit 1").fetchone()
    stats = json.loads(last[0]) if last and last[0] else None
    for line in summary_lines(db, stats):
        click.echo(line)
    for table in ("articles", "images", "translations", "runs"):
        click.echo(f"{table}: {db.table(table).count} rows")


@db_group.command(name="reindex")
@db_option
def db_reindex(db_path: Path | None) -> None:
    """Rebuild the morphology-aware search index from the stored articles.

    Crawls keep it up to date; rebuild it after changing articles with another tool (plain
    sqlite3, sqlite-utils), or after upgrading the analysers. Articles are not changed.

    Example: ingest db reindex --db data/demo.db
    """
    from ingest.store.db import NotOurDatabase, reindex

    path = db_path or default_db_path()
    if not path.is_file():
        raise click.ClickException(f"no database at {path}; run a crawl first (ingest crawl rbc)")
    try:
        db = open_db(path)
    except NotOurDatabase as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        count = reindex(db)
    finally:
        db.close()
    click.echo(f"search index rebuilt: {count:,} articles")


COMMANDS = (db_group,)
