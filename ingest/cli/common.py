"""What the command modules share: the --db option, NAME=VALUE pairs, opening the database
with a clear error, the summary after a crawl."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click
from sqlite_utils import Database

from ingest.store.db import NotOurDatabase, default_db_path, open_db
from ingest.store.schema import DB_ENVVAR, DEFAULT_DB

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=DB_ENVVAR,
    help=f"SQLite file (default: ${DB_ENVVAR} or {DEFAULT_DB}).",
)


def pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, val = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=flag)
        out[name] = val
    return out


def summary_lines(db: Database, run_stats: dict[str, Any] | None = None) -> list[str]:
    """Articles per language, translations, drops by reason: what a user checks after a crawl."""
    lines = []
    total = db.table("articles").count
    per_lang = db.execute(
        "select coalesce(lang, '?'), count(*) from articles group by 1 order by 2 desc"
    ).fetchall()
    lines.append(f"articles: {total} (" + ", ".join(f"{lang} {n}" for lang, n in per_lang) + ")")
    per_site = db.execute(
        "select site, count(*) from articles group by 1 order by 2 desc"
    ).fetchall()
    lines.append("sites: " + ", ".join(f"{site} {n}" for site, n in per_site))
    stories = db.execute(
        "select count(*) from (select story_id from translations group by story_id "
        "having count(*) > 1)"
    ).fetchone()[0]
    lines.append(f"stories with more than one language: {stories}")
    lines.append(f"images: {db.table('images').count}")
    if run_stats is not None:
        drops = {
            k.removeprefix("ingest/dropped/"): v
            for k, v in sorted(run_stats.items())
            if k.startswith("ingest/dropped/")
        }
        lines.append(
            "dropped: " + (", ".join(f"{k} {v}" for k, v in drops.items()) if drops else "none")
        )
        if blocked := run_stats.get("robotstxt/forbidden"):
            lines.append(f"not fetched, robots.txt disallows: {blocked}")
        skips = {
            k.removeprefix("ingest/skipped/"): v
            for k, v in sorted(run_stats.items())
            if k.startswith("ingest/skipped/") and v
        }
        if skips:
            lines.append("not downloaded again: " + ", ".join(f"{k} {v}" for k, v in skips.items()))
    return lines


def open_existing(db_path: Path | None) -> Database:
    path = db_path or default_db_path()
    try:
        return open_db(path, read_only=True)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc}; run a crawl first (ingest crawl rbc)") from exc
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc


def open_writable(path: Path) -> Database:
    """The database at ``path`` opened for writing (created and migrated), or a clear error: a
    file that is not a database, a read-only one, a folder that cannot be made."""
    try:
        return open_db(path)
    except NotOurDatabase as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot write {path}: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc
