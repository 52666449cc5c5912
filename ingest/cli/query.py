"""``ingest`` commands that read the database: search, query, export, runs, stats, translations
and serve. The work is done in ingest.query."""

from __future__ import annotations

import base64
import csv
import ipaddress
import json
import signal
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import click
import pluggy
from sqlite_utils import Database

from ingest.cli.common import db_option
from ingest.query import (
    RUN_COLUMNS,
    SEARCH_COLUMNS,
    STATS_COLUMNS,
    TRANSLATION_COLUMNS,
    Filters,
    QueryLimits,
    ReadOnlyGuard,
    article_stats,
    decode_json_columns,
    export_rows,
    limit_lengths,
    open_guarded,
    parse_moment,
    run_rows,
    search_rows,
    story_id_for,
    translation_rows,
)
from ingest.store.db import default_db_path

__all__ = ["search_rows"]

F = TypeVar("F", bound=Callable[..., Any])
# Datasette's plugin marker, without importing Datasette (0.1 s) for every other command.
hookimpl = pluggy.HookimplMarker("datasette")

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
        why = str(exc) if "out of range" in str(exc) else "expected YYYY-MM-DD or an ISO date-time"
        raise click.BadParameter(f"{why}, got {value!r}") from exc


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


# Exit status of a query command stopped by Ctrl+C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130


class QueryInterrupted(click.ClickException):
    """Ctrl+C stopped a running query: a one-line message and status ``EXIT_INTERRUPTED``."""

    exit_code = EXIT_INTERRUPTED


def _settings() -> Any:
    """The project settings module: INGEST_QUERY_* defaults, read from the environment there."""
    from ingest import settings

    return settings


@contextmanager
def guarded_db(
    db_path: Path | None, *, time_limit: float = 0.0, memory_limit: int = 0
) -> Iterator[tuple[Database, ReadOnlyGuard]]:
    """The read-only, authorizer-guarded database, closed afterwards; errors as ClickExceptions.

    Every query on it is bounded (``INGEST_QUERY_MAX_LENGTH`` per value; ``time_limit`` seconds
    and ``memory_limit`` bytes of growth when given) and Ctrl+C stops it at once, exiting 130.
    """
    path = db_path or default_db_path()
    try:
        db, guard = open_guarded(path)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc}; run a crawl first (ingest crawl rbc)") from exc
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    limit_lengths(db.conn, _settings().INGEST_QUERY_MAX_LENGTH)
    limits = QueryLimits(db.conn, time_limit=time_limit, memory_limit=memory_limit)
    limits.start()
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:  # signal handlers can only be set there (CliRunner in a thread: no Ctrl+C)

        def on_sigint(signum: int, frame: object) -> None:
            limits.interrupt()

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield db, guard
    except (sqlite3.Error, click.ClickException) as exc:
        if limits.stopped is None:
            raise
        raise _stopped(limits, time_limit, memory_limit) from exc
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        db.close()
    if limits.stopped == "interrupt":  # Ctrl+C between the last row and the end
        raise QueryInterrupted("interrupted")


def _stopped(limits: QueryLimits, time_limit: float, memory_limit: int) -> click.ClickException:
    """The message for a query ended by one of its limits or by Ctrl+C."""
    if limits.stopped == "interrupt":
        return QueryInterrupted("interrupted: the query was stopped (Ctrl+C)")
    if limits.stopped == "time":
        return click.ClickException(
            f"the query ran longer than its time limit ({time_limit:g} s; --time-limit or "
            "INGEST_QUERY_TIME_LIMIT) and was stopped"
        )
    return click.ClickException(
        f"the query used more than its memory limit ({memory_limit // 2**20} MiB; "
        "INGEST_QUERY_MEMORY_LIMIT) and was stopped"
    )


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


@click.command()
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


@click.command(name="query")
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
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0),
    help="Seconds the query may run; 0 = no limit (default: INGEST_QUERY_TIME_LIMIT, 30).",
)
@output_options
def query_command(
    sql: str,
    db_path: Path | None,
    params: tuple[tuple[str, str], ...],
    time_limit: float | None,
    fmt: str,
) -> None:
    """Run one read-only SQL statement and print its rows.

    The connection cannot write: the file is opened read-only, query_only is on, and an
    authorizer refuses writes, ATTACH, pragma changes and load_extension() before they run.
    A query is stopped after --time-limit seconds, when the command grows by more than
    INGEST_QUERY_MEMORY_LIMIT bytes, or at once by Ctrl+C (exit status 130).

    Example: ingest query "select lang, count(*) as n from articles group by lang" --json
    """
    settings = _settings()
    limit = settings.INGEST_QUERY_TIME_LIMIT if time_limit is None else time_limit
    memory = settings.INGEST_QUERY_MEMORY_LIMIT
    with guarded_db(db_path, time_limit=limit, memory_limit=memory) as (db, guard):
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
    if isinstance(exc, sqlite3.DataError) or "too big" in str(exc):
        return click.ClickException(
            f"SQL error: {exc} (no value may exceed INGEST_QUERY_MAX_LENGTH bytes)"
        )
    return click.ClickException(f"SQL error: {exc}")


@click.command()
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
    help="JSON lines (list and object columns as JSON values) or CSV (as JSON text).",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write, or - for standard output.",
)
@click.option("--force", is_flag=True, help="Overwrite the --output file if it exists.")
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
    force: bool,
) -> None:
    """Export whole articles matching the filters (and QUERY, best first), row by row.

    Without QUERY every article that passes the filters is exported, oldest first. Rows
    stream from SQLite to the output, so the export's size is not limited by memory. An
    existing --output file is kept unless --force.

    Example: ingest export --lang en --since 2025-07-01 --format csv --output en.csv
    """
    filters = _filters(lang, site, section, since, until)
    if output != "-":
        _check_output(Path(output), force)
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
                # "x" unless --force: a file that appeared since the check is not overwritten.
                with Path(output).open("w" if force else "x", encoding="utf-8", newline="") as out:
                    count = write_rows(rows, columns, kind, out)
        except sqlite3.Error as exc:
            raise click.ClickException(f"export failed: {exc}") from exc
        except FileExistsError as exc:
            raise click.ClickException(f"{output} exists; --force overwrites it") from exc
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    if output != "-":
        click.echo(f"{count} articles written to {output}", err=True)


def _check_output(path: Path, force: bool) -> None:
    """Refuse, before any query runs, an output that exists (without --force) or has no folder."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; --force overwrites it")
    if not path.parent.is_dir():
        raise click.ClickException(f"cannot write {path}: no folder {path.parent}")


@click.command()
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


@click.command()
@db_option
@output_options
def stats(db_path: Path | None, fmt: str) -> None:
    """Articles per site, language and day of publication (UTC).

    Example: ingest stats --csv > per-day.csv
    """
    with guarded_db(db_path) as (db, _):
        rows = article_stats(db)
    write_rows(rows, STATS_COLUMNS, fmt, _stdout())


@click.command()
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


@click.command()
@db_option
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; anything but loopback publishes the database.",
)
def serve(db_path: Path | None, port: int, host: str) -> None:
    """Browse the database in Datasette: search by lemma at /-/search, a readable view of each
    article, full-text search and facets on articles.

    The file is served immutable (read-only, never locked): restart after a crawl to see its
    articles. The metadata from ingest.query.datasette_metadata describes every table and column;
    the plugin ingest.query.datasette_plugin adds the search page and the article view. Stops with
    Ctrl-C.

    Example: ingest serve --db data/demo.db --port 8001
    """
    from datasette.cli import cli as datasette_cli
    from datasette.plugins import pm

    from ingest.query import datasette_plugin
    from ingest.query.datasette_metadata import TRUNCATE_CELLS, datasette_metadata

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
        settings = _settings()
        time_limit_ms = round(settings.INGEST_QUERY_SERVE_TIME_LIMIT * 1000)
        args += ["--setting", "sql_time_limit_ms", str(time_limit_ms)]
        # Table pages show the start of each long text (body, body_html), not all of it.
        args += ["--setting", "truncate_cells_html", str(TRUNCATE_CELLS)]
        limits = ServeLimits(settings.INGEST_QUERY_MAX_LENGTH, settings.INGEST_QUERY_MEMORY_LIMIT)
        pm.register(limits, name=limits.__name__)
        # Search by lemma (/-/search, ingest_match), the article view, tooltips; templates too.
        pm.register(datasette_plugin, name=datasette_plugin.__name__)
        limit_process_memory(settings.INGEST_QUERY_MEMORY_LIMIT)
        datasette_cli.main(args=args, prog_name="ingest serve", standalone_mode=False)


class ServeLimits:
    """A Datasette plugin (``prepare_connection``): every connection of ``ingest serve`` refuses
    values over ``max_length`` bytes, and SQLite's heap in the server process is capped at
    ``heap_limit`` bytes (``PRAGMA hard_heap_limit``: past it an allocation fails and the query
    with it, the server goes on). One query pushed the server to 3.8 GB without them; Datasette
    itself bounds time (``sql_time_limit_ms``) and rows (``max_returned_rows``)."""

    def __init__(self, max_length: int, heap_limit: int) -> None:
        self.__name__ = "ingest-query-limits"  # Datasette lists plugins by module name
        self.max_length = max_length
        self.heap_limit = heap_limit

    @hookimpl
    def prepare_connection(self, conn: sqlite3.Connection) -> None:
        limit_lengths(conn, self.max_length)
        if self.heap_limit > 0:
            conn.execute(f"PRAGMA hard_heap_limit = {int(self.heap_limit)}")


def limit_process_memory(growth: int) -> None:
    """Let this process's data (heap, anonymous maps, thread stacks) grow by at most ``growth``
    bytes from now (``RLIMIT_DATA``): past it an allocation raises ``MemoryError`` in the request
    that made it, and Datasette answers that request with an error. SQLite's limits cannot see
    the copies Python makes of the rows (``zeroblob(3e7)`` a thousand times took 1.7 GB)."""
    if growth <= 0 or not sys.platform.startswith("linux"):
        return
    import resource

    status = Path("/proc/self/status").read_text("ascii", errors="replace")
    data_kb = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmData:")), None
    )
    if data_kb is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = data_kb * 1024 + growth
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


COMMANDS = (
    search,
    query_command,
    export,
    runs,
    stats,
    translations,
    serve,
)
