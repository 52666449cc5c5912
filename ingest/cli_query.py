"""``ingest`` commands that read the database: search, query, export, runs, stats, translations
and serve (registered on the group in ingest.cli). The work is done in ingest.query."""

from __future__ import annotations

import base64
import csv
import ipaddress
import json
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from sqlite_utils import Database

from ingest.cli import cli, db_option
from ingest.db import default_db_path
from ingest.query import (
    RUN_COLUMNS,
    SEARCH_COLUMNS,
    STATS_COLUMNS,
    TRANSLATION_COLUMNS,
    Filters,
    ReadOnlyGuard,
    article_stats,
    decode_json_columns,
    export_rows,
    open_guarded,
    parse_moment,
    run_rows,
    search_rows,
    story_id_for,
    translation_rows,
)

__all__ = ["cli", "search_rows"]

F = TypeVar("F", bound=Callable[..., Any])

# Table cells longer than this are cut with "…"; 0 means never (URLs must stay usable).
CELL_WIDTH = 60
SEARCH_WIDTHS = {"title": 50, "snippet": 70, "section": 16, "url": 0}


def _moment(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> date | datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected YYYY-MM-DD or an ISO date-time, got {value!r}") from exc


def filter_options(func: F) -> F:
    """--lang/--site/--section (repeatable) and --since/--until, shared by search and export."""
    options = [
        click.option(
            "--lang", multiple=True, help="Detected language (uk, ru, en...); repeatable."
        ),
        click.option("--site", multiple=True, help="Site name, as in articles.site; repeatable."),
        click.option("--section", multiple=True, help="Site section (rubric); repeatable."),
        click.option(
            "--since",
            callback=_moment,
            help="Published on or after this date or ISO date-time (UTC unless an offset).",
        ),
        click.option(
            "--until",
            callback=_moment,
            help="Published on or before this date (the whole UTC day) or ISO date-time.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def output_options(func: F) -> F:
    """--table (default), --json (JSON lines) or --csv; the last one given wins."""
    options = [
        click.option(
            "--table", "fmt", flag_value="table", default=True, help="Aligned columns (default)."
        ),
        click.option("--json", "fmt", flag_value="json", help="JSON lines, one object per row."),
        click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _filters(
    lang: tuple[str, ...],
    site: tuple[str, ...],
    section: tuple[str, ...],
    since: date | datetime | None,
    until: date | datetime | None,
) -> Filters:
    return Filters(lang=lang, site=site, section=section, since=since, until=until)


@contextmanager
def guarded_db(db_path: Path | None) -> Iterator[tuple[Database, ReadOnlyGuard]]:
    """The read-only, authorizer-guarded database, closed afterwards; errors as ClickExceptions."""
    path = db_path or default_db_path()
    try:
        db, guard = open_guarded(path)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc}; run a crawl first (ingest crawl rbc)") from exc
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    try:
        yield db, guard
    finally:
        db.close()


def _plain(value: Any) -> Any:
    """A value JSON and CSV can carry: BLOBs as base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _cell(value: Any, width: int) -> str:
    """One table cell on one line, cut to ``width`` characters."""
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.2f}"
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k} {v}" for k, v in value.items())
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    else:
        text = " ".join(str(value).split())
    return text if not width or len(text) <= width else text[: width - 1] + "…"


def table_lines(
    rows: Iterable[Mapping[str, Any]], columns: list[str], widths: Mapping[str, int] | None = None
) -> Iterator[str]:
    """Rows as aligned text columns under a header; nothing at all when there are no rows."""
    limits = widths or {}
    cells = [[_cell(row.get(c), limits.get(c, CELL_WIDTH)) for c in columns] for row in rows]
    if not cells:
        return
    sizes = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(n) for v, n in zip(values, sizes, strict=True)).rstrip()

    yield line(columns)
    yield line(["-" * n for n in sizes])
    for row_cells in cells:
        yield line(row_cells)


def write_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: list[str],
    fmt: str,
    out: IO[str],
    widths: Mapping[str, int] | None = None,
) -> int:
    """Write rows as JSON lines, CSV or a table, one row at a time for JSON and CSV."""
    count = 0
    if fmt == "table":
        for line in table_lines(rows, columns, widths):
            out.write(line + "\n")
            count += 1
        return max(count - 2, 0)
    if fmt == "json":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=_plain) + "\n")
            count += 1
        return count
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else _plain(v)
                for v in (row.get(c) for c in columns)
            ]
        )
        count += 1
    return count


def _stdout() -> IO[str]:
    """Standard output as it is now (CliRunner swaps it in tests)."""
    return sys.stdout


@cli.command()
@click.argument("query")
@db_option
@filter_options
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 10000))
@click.option("--raw", is_flag=True, help="QUERY is FTS5 syntax (AND, OR, NEAR, prefix*).")
@click.option(
    "--translations",
    "with_translations",
    is_flag=True,
    help="Under each hit, the other language versions of its story.",
)
@output_options
def search(
    query: str,
    db_path: Path | None,
    lang: tuple[str, ...],
    site: tuple[str, ...],
    section: tuple[str, ...],
    since: date | datetime | None,
    until: date | datetime | None,
    limit: int,
    raw: bool,
    with_translations: bool,
    fmt: str,
) -> None:
    """Full-text search over titles, leads and bodies, best matches first, with snippets.

    Words match in any inflected form: Ukrainian and Russian by lemma, the languages Snowball
    covers by stem, each row by its own language's analysis (without --lang a query goes
    through every language's). Plain QUERY words are quoted, so punctuation is never FTS5
    syntax, and "quoted words" are a phrase; --raw passes FTS5 syntax through (phrases, NEAR,
    AND/OR/NOT, columns; a prefix* matches the words as written). Snippets show the
    article's own words. The score is SQLite's bm25 with the title weighted most: lower is
    better.

    Example: ingest search Україна --lang uk --translations
    """
    filters = _filters(lang, site, section, since, until)
    with guarded_db(db_path) as (db, _):
        try:
            rows = list(search_rows(db, query, filters=filters, limit=limit, raw=raw))
        except sqlite3.OperationalError as exc:
            raise click.ClickException(f"bad search query: {exc}") from exc
        if with_translations:
            for row in rows:
                row["translations"] = _other_versions(db, row["url"])
    if fmt == "table":
        for row in rows:
            row["published"] = (row["published"] or "")[:16].replace("T", " ")
    if with_translations and fmt == "table":
        _write_hits_with_translations(rows, _stdout())
        return
    columns = [*SEARCH_COLUMNS, "translations"] if with_translations else SEARCH_COLUMNS
    write_rows(rows, columns, fmt, _stdout(), SEARCH_WIDTHS)


def _other_versions(db: Database, url: str) -> list[dict[str, Any]]:
    """The story's other language versions (lang, title, url, stored) of the article at url."""
    story_id = story_id_for(db, url)
    if story_id is None:
        return []
    return [
        {**row, "stored": bool(row["stored"])}
        for row in translation_rows(db, story_id)
        if row["url"] != url
    ]


def _write_hits_with_translations(rows: list[dict[str, Any]], out: IO[str]) -> None:
    """Each hit as a small block: date, language, site, title; snippet; URL; then one line
    per other language version of the story."""
    for row in rows:
        out.write(f"{row['published']}  {row['lang']}  {row['site']}  {row['title']}\n")
        out.write(f"    {_cell(row['snippet'], 0)}\n    {row['url']}\n")
        for version in row["translations"]:
            title = version["title"] or "(not crawled)"
            out.write(f"      {version['lang']}: {_cell(title, 70)}  {version['url']}\n")
        out.write("\n")


@cli.command(name="query")
@click.argument("sql")
@db_option
@click.option(
    "-p",
    "--param",
    "params",
    type=(str, str),
    multiple=True,
    metavar="NAME VALUE",
    help="Bind :NAME to VALUE in SQL; repeatable.",
)
@output_options
def query_command(
    sql: str, db_path: Path | None, params: tuple[tuple[str, str], ...], fmt: str
) -> None:
    """Run one read-only SQL statement and print its rows.

    The connection cannot write: the file is opened read-only, query_only is on, and an
    authorizer refuses writes, ATTACH, pragma changes and load_extension() before they run.

    Example: ingest query "select lang, count(*) as n from articles group by lang" --json
    """
    with guarded_db(db_path) as (db, guard):
        try:
            cursor = db.execute(sql, dict(params))
            columns = [c[0] for c in cursor.description or []]
            rows = (dict(zip(columns, row, strict=True)) for row in cursor)
            write_rows(rows, columns, fmt, _stdout())
        except sqlite3.Error as exc:
            raise _sql_error(exc, guard) from exc


def _sql_error(exc: sqlite3.Error, guard: ReadOnlyGuard) -> click.ClickException:
    """Say *why* a statement was refused, not only SQLite's "not authorized"."""
    if guard.refused:
        what = "; ".join(dict.fromkeys(guard.refused))  # distinct, in the order SQLite asked
        return click.ClickException(
            f"refused: {what}. ingest query is read-only: no writes, ATTACH, "
            "pragma changes or extensions"
        )
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
        return click.ClickException(f"refused: {exc}. ingest query is read-only")
    return click.ClickException(f"SQL error: {exc}")


@cli.command()
@click.argument("query", required=False)
@db_option
@filter_options
@click.option("--raw", is_flag=True, help="QUERY is FTS5 syntax (AND, OR, NEAR, prefix*).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON lines (authors, tags, alternates as JSON values) or CSV (as JSON text).",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write, or - for standard output.",
)
def export(
    query: str | None,
    db_path: Path | None,
    lang: tuple[str, ...],
    site: tuple[str, ...],
    section: tuple[str, ...],
    since: date | datetime | None,
    until: date | datetime | None,
    raw: bool,
    fmt: str,
    output: str,
) -> None:
    """Export whole articles matching the filters (and QUERY, best first), row by row.

    Without QUERY every article that passes the filters is exported, oldest first. Rows
    stream from SQLite to the output, so the export's size is not limited by memory.

    Example: ingest export --lang en --since 2025-07-01 --format csv --output en.csv
    """
    filters = _filters(lang, site, section, since, until)
    with guarded_db(db_path) as (db, _):
        try:
            rows = export_rows(db, query, filters=filters, raw=raw)
        except sqlite3.OperationalError as exc:
            raise click.ClickException(f"bad search query: {exc}") from exc
        columns = [c[0] for c in db.execute("select * from articles limit 0").description]
        if fmt == "jsonl":
            rows = (decode_json_columns(r) for r in rows)
        kind = "json" if fmt == "jsonl" else "csv"
        try:
            if output == "-":
                count = write_rows(rows, columns, kind, _stdout())
            else:
                with Path(output).open("w", encoding="utf-8", newline="") as out:
                    count = write_rows(rows, columns, kind, out)
        except sqlite3.Error as exc:
            raise click.ClickException(f"export failed: {exc}") from exc
    if output != "-":
        click.echo(f"{count} articles written to {output}", err=True)


@cli.command()
@db_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 10000))
@output_options
def runs(db_path: Path | None, limit: int, fmt: str) -> None:
    """The last crawl runs, newest first: articles stored, dropped, and drops by reason; how
    the kept bodies (extraction) and titles were found; per declared site the share of bodies
    its own selectors found (site_share); the sites whose selectors stopped matching (drift).

    Example: ingest runs --limit 5
    """
    with guarded_db(db_path) as (db, _):
        rows = run_rows(db, limit)
    widths = {"drops": 0, "extraction": 0, "titles": 0, "site_share": 0, "drift": 0}
    write_rows(rows, RUN_COLUMNS, fmt, _stdout(), widths)


@cli.command()
@db_option
@output_options
def stats(db_path: Path | None, fmt: str) -> None:
    """Articles per site, language and day of publication (UTC).

    Example: ingest stats --csv > per-day.csv
    """
    with guarded_db(db_path) as (db, _):
        rows = article_stats(db)
    write_rows(rows, STATS_COLUMNS, fmt, _stdout())


@cli.command()
@click.argument("story")
@db_option
@output_options
def translations(story: str, db_path: Path | None, fmt: str) -> None:
    """Every language version of one story, given its story id or the URL of any version.

    Example: ingest translations https://newsukraine.rbc.ua/news/zelenskyy-trump-air-defense-1751640540.html
    """
    with guarded_db(db_path) as (db, _):
        story_id = story_id_for(db, story)
        if story_id is None:
            raise click.ClickException(f"no story with id or URL {story!r}")
        rows = translation_rows(db, story_id)
    for row in rows:
        row["stored"] = bool(row["stored"])
    if fmt == "table":
        click.echo(f"story {story_id}")
    write_rows(rows, TRANSLATION_COLUMNS, fmt, _stdout(), {"url": 0})


@cli.command()
@db_option
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; anything but loopback publishes the database.",
)
def serve(db_path: Path | None, port: int, host: str) -> None:
    """Browse the database in Datasette: full-text search and facets on articles.

    The file is served immutable (read-only, never locked): restart after a crawl to see its
    articles. The metadata from ingest.datasette_metadata describes every table and column.
    Stops with Ctrl-C.

    Example: ingest serve --db data/demo.db --port 8001
    """
    from datasette.cli import cli as datasette_cli

    from ingest.datasette_metadata import datasette_metadata

    path = db_path or default_db_path()
    if not path.is_file():
        raise click.ClickException(f"no database at {path}; run a crawl first (ingest crawl rbc)")
    if not _is_loopback(host):
        click.echo(f"warning: serving on {host}, reachable from other machines", err=True)
    with tempfile.TemporaryDirectory(prefix="ingest-serve-") as tmp:
        metadata = Path(tmp) / "metadata.json"
        # Datasette names a database after its file's stem; the metadata must use that name.
        metadata.write_text(json.dumps(datasette_metadata(path.stem)), encoding="utf-8")
        args = ["serve", "--immutable", str(path), "--metadata", str(metadata)]
        args += ["--host", host, "--port", str(port)]
        datasette_cli.main(args=args, prog_name="ingest serve", standalone_mode=False)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
