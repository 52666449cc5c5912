"""Reading the database: guarded read-only connections, filtered search and export, run and
article statistics. The ``ingest`` query commands are a thin layer over these functions."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ingest.store import search_index
from ingest.store.db import open_db
from ingest.store.schema import ARTICLE_JSON_COLUMNS

# bm25 weights for title, lead and body: a word in the headline says more than one in the text.
BM25_WEIGHTS = (4.0, 2.0, 1.0)

# Functions no read-only query needs and that reach outside the database: loading native code,
# swapping FTS tokenizers by pointer, and the file helpers some SQLite builds register.
DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
# Pragmas that only describe the schema; their argument is a table or index name, not a value.
INTROSPECTION_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "collation_list",
        "function_list",
        "module_list",
        "pragma_list",
        "compile_options",
        "database_list",
        "integrity_check",
        "quick_check",
    }
)
# Settings that may be read but not set: with an argument they would change the connection.
READABLE_PRAGMAS = frozenset(
    {
        "application_id",
        "data_version",  # FTS5 reads it on every query
        "encoding",
        "foreign_keys",
        "freelist_count",
        "journal_mode",
        "page_count",
        "page_size",
        "query_only",
        "schema_version",
        "user_version",
    }
)
SCHEMA_TABLES = frozenset(
    {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
)
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
_AUTHORIZER_ACTIONS = (
    "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE",
    "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW", "DELETE",
    "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER",
    "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "INSERT", "TRANSACTION", "UPDATE", "ATTACH",
    "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE", "CREATE_VTABLE", "DROP_VTABLE", "SAVEPOINT",
)  # fmt: skip
# Readable names for the refusal message ("ATTACH :memory:", "INSERT runs").
_ACTION_NAMES = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in _AUTHORIZER_ACTIONS
    if hasattr(sqlite3, f"SQLITE_{name}")
}


class ReadOnlyGuard:
    """A ``sqlite3`` authorizer that allows reading and nothing else.

    An allow-list, so statements SQLite adds later are refused until someone looks at them.
    It is one layer of three (``mode=ro``, ``query_only``): ``query_only`` alone can be switched
    off by a ``PRAGMA``, and neither stops ``ATTACH`` or ``VACUUM INTO`` writing another file.
    """

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        dbname: str | None,
        source: str | None,
    ) -> int:
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() not in DENIED_FUNCTIONS:
                return sqlite3.SQLITE_OK
            return self._refuse(f"function {arg2}()")
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in INTROSPECTION_PRAGMAS or (name in READABLE_PRAGMAS and arg2 is None):
                return sqlite3.SQLITE_OK
            return self._refuse(f"PRAGMA {arg1}" + (f" = {arg2}" if arg2 is not None else ""))
        # SQLite declares a virtual table (FTS5, json_each, pragma_*) by parsing its CREATE
        # statement the first time a connection uses it, and reports that as an UPDATE of
        # sqlite_master. No user statement can update sqlite_master without writable_schema,
        # a pragma refused above.
        if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and source is None:
            return sqlite3.SQLITE_OK
        if arg1 in SCHEMA_TABLES:  # CREATE/DROP reach SQLite as writes to the schema table
            return self._refuse(f"schema change ({_ACTION_NAMES.get(action, action)} {arg1})")
        what = _ACTION_NAMES.get(action, f"action {action}")
        return self._refuse(f"{what} {arg1 or ''}".strip())

    def _refuse(self, what: str) -> int:
        self.refused.append(what)
        return sqlite3.SQLITE_DENY


def guard_read_only(conn: sqlite3.Connection) -> ReadOnlyGuard:
    """Install the read-only authorizer on ``conn`` and turn extension loading off."""
    if hasattr(conn, "enable_load_extension"):  # absent when Python's SQLite omits extensions
        conn.enable_load_extension(False)
    guard = ReadOnlyGuard()
    conn.set_authorizer(guard)
    return guard


def open_guarded(path: Path) -> tuple[Database, ReadOnlyGuard]:
    """The database at ``path``, read-only three ways over: URI, ``query_only``, authorizer.

    Raises ``FileNotFoundError`` when there is no database yet.
    """
    db = open_db(path, read_only=True)
    return db, guard_read_only(db.conn)


# SQLite instructions between two checks of a query's limits: about a millisecond of work, so
# a limit or Ctrl+C stops a query at once, for well under 1% of its time.
PROGRESS_STEPS = 10_000
# How often (seconds) the process's memory is read while a query runs.
MEMORY_CHECK_INTERVAL = 0.1
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc/self/statm``), None where unknown."""
    try:
        return int(Path("/proc/self/statm").read_text("ascii").split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def limit_lengths(conn: sqlite3.Connection, max_length: int) -> None:
    """No string or BLOB longer than ``max_length`` bytes is built or read by ``conn``:
    ``randomblob(9e8)`` or a ``group_concat`` of everything fails at once with "string or blob
    too big" instead of taking gigabytes (SQLite's own limit is a billion bytes)."""
    if max_length > 0:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_length)


class QueryLimits:
    """A deadline, a memory bound and Ctrl+C for the statements run on one connection.

    SQLite calls ``check`` every ``PROGRESS_STEPS`` instructions, also while the caller is
    reading rows; a non-zero answer ends the statement with "interrupted". Python only runs a
    SIGINT handler between bytecodes, and a statement inside SQLite runs none, so without this
    handler Ctrl+C waited for the query to end (which an endless CTE never does). The memory
    bound is on the whole process's growth since ``start`` (rows kept for a table included),
    so the caller's own baseline does not count.
    """

    def __init__(
        self, conn: sqlite3.Connection, *, time_limit: float = 0.0, memory_limit: int = 0
    ) -> None:
        self.conn = conn
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.deadline: float | None = None
        self.memory_ceiling: int | None = None
        self.next_memory_check = 0.0
        self.stopped: str | None = None  # "time", "memory" or "interrupt", once stopped

    def start(self) -> None:
        """Install the checks; the time limit counts from now."""
        now = time.monotonic()
        self.deadline = now + self.time_limit if self.time_limit > 0 else None
        baseline = resident_bytes() if self.memory_limit > 0 else None
        self.memory_ceiling = None if baseline is None else baseline + self.memory_limit
        self.conn.set_progress_handler(self.check, PROGRESS_STEPS)

    def check(self) -> int:
        """SQLite's progress handler: 1 stops the running statement."""
        if self.stopped is not None:
            return 1
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.stopped = "time"
        elif self.memory_ceiling is not None and now >= self.next_memory_check:
            self.next_memory_check = now + MEMORY_CHECK_INTERVAL
            if (resident_bytes() or 0) > self.memory_ceiling:
                self.stopped = "memory"
        return 1 if self.stopped is not None else 0

    def interrupt(self) -> None:
        """Stop the running statement now (for a SIGINT handler): the flag stops it at the next
        check, ``Connection.interrupt`` at SQLite's next step should it be between rows."""
        self.stopped = "interrupt"
        self.conn.interrupt()


def parse_moment(text: str) -> date | datetime:
    """A ``--since``/``--until`` value: an ISO date, or an ISO date-time (naive means UTC).

    Raises ``ValueError`` for text that is neither, and for a moment that has no UTC
    equivalent (``9999-12-31T23:00-05:00`` is in year 10000): filters compare in UTC.
    """
    value = text.strip()
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.removesuffix("Z").removesuffix("z"))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{text!r} is out of range in UTC (years 1 to 9999)") from exc
    return moment


def _utc(moment: datetime) -> str:
    """The same text as stored ``published`` values, so string order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, kw_only=True)
class Filters:
    """Which articles: any of the given languages, sites and sections, published in a range.

    ``since`` and ``until`` are inclusive; a date ``until`` takes in the whole (UTC) day.
    """

    lang: tuple[str, ...] = ()
    site: tuple[str, ...] = ()
    section: tuple[str, ...] = ()
    since: date | datetime | None = None
    until: date | datetime | None = None

    def clauses(self) -> tuple[list[str], dict[str, Any]]:
        """Fixed SQL conditions on alias ``a`` (articles) and their bound parameters."""
        where: list[str] = []
        params: dict[str, Any] = {}
        for column, values in (("lang", self.lang), ("site", self.site), ("section", self.section)):
            if values:
                where.append(FILTER_CLAUSES[column])
                params[column] = json.dumps(list(values), ensure_ascii=False)
        if self.since is not None:
            since = self.since
            if not isinstance(since, datetime):
                since = datetime(since.year, since.month, since.day, tzinfo=UTC)
            where.append("a.published >= :since")
            params["since"] = _utc(since)
        if self.until is not None:
            if isinstance(self.until, datetime):
                where.append("a.published <= :until")
                params["until"] = _utc(self.until)
            elif self.until < date.max:  # until the last day: no upper bound at all
                day_after = self.until + timedelta(days=1)
                where.append("a.published < :until")
                params["until"] = _utc(
                    datetime(day_after.year, day_after.month, day_after.day, tzinfo=UTC)
                )
        return where, params


# One fixed clause per filter; the values travel as a JSON list in one bound parameter.
FILTER_CLAUSES = {
    "lang": "a.lang in (select value from json_each(:lang))",
    "site": "a.site in (select value from json_each(:site))",
    "section": "a.section in (select value from json_each(:section))",
}

SEARCH_COLUMNS = ["published", "lang", "site", "section", "title", "snippet", "url", "score"]


def _rows(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    """Rows as dicts, fetched one at a time from the cursor."""
    columns = [c[0] for c in cursor.description]
    for row in cursor:
        yield dict(zip(columns, row, strict=True))


def quote_words(query: str) -> str:
    """Each whitespace-separated word as an FTS5 string, its own ``"`` doubled: plain words are
    never FTS5 syntax. (sqlite-utils' ``quote_fts`` turns ``"`` into an empty query, an FTS5
    syntax error.) No words at all is an empty string, which FTS5 takes as matching nothing."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in query.split()) or '""'


def _match(db: Database, query: str, raw: bool) -> str:
    """FTS5 query text: the user's words quoted, unless they asked for FTS5 syntax."""
    return query if raw else quote_words(query)


def search_rows(
    db: Database,
    query: str,
    *,
    filters: Filters | None = None,
    limit: int = 10,
    raw: bool = False,
) -> Iterator[dict[str, Any]]:
    """Best matches first (weighted bm25, lower ``score`` is better), each with a snippet in the
    article's own words, on the morphology-aware index (ingest/store/search_index.py). A query with
    a prefix (``--raw``, ``word*``), or a database whose index is missing or incomplete (not
    upgraded yet, articles added by another tool), searches the exact words of ``articles_fts``
    instead."""
    filters = filters or Filters()
    where, params = filters.clauses()
    rewritten = search_index.rewrite(query, raw=raw, keys=search_index.keys_for(filters.lang))
    if rewritten.exact or not search_index.index_is_current(db.conn):
        yield from _exact_search_rows(db, query, where, params, limit, raw)
        return
    params.update({"q": rewritten.match, "limit": limit})
    table = search_index.SEARCH_TABLE
    weights = ", ".join(str(w) for w in search_index.BM25_WEIGHTS)
    # Only fixed clauses and constants are joined in; every value is a bound parameter.
    sql = (
        "select a.published, a.lang, a.site, a.section, a.title, a.url, a.lead, a.body, "  # noqa: S608
        f"{search_index.highlight_sql()}, bm25({table}, {weights}) as score "
        f"from {table} join articles a on a.rowid = {table}.rowid "
        f"where {' and '.join([f'{table} match :q', *where])} "
        "order by score, a.published desc limit :limit"
    )
    for row in _rows(db.execute(sql, params)):
        row["snippet"] = search_index.best_snippet(row)
        search_index.pop_highlights(row)
        del row["lead"], row["body"]
        yield {column: row[column] for column in SEARCH_COLUMNS}


def _exact_search_rows(
    db: Database, query: str, where: list[str], params: dict[str, Any], limit: int, raw: bool
) -> Iterator[dict[str, Any]]:
    """The exact-word search of ``articles_fts`` (unicode61, the words as written)."""
    params.update({"q": _match(db, query, raw), "limit": limit})
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    sql = (
        "select a.published, a.lang, a.site, a.section, a.title, "  # noqa: S608
        "snippet(articles_fts, -1, '[', ']', '…', 16) as snippet, a.url, "
        f"bm25(articles_fts, {weights}) as score "
        "from articles_fts join articles a on a.rowid = articles_fts.rowid "
        f"where {' and '.join(['articles_fts match :q', *where])} "
        "order by score, a.published desc limit :limit"
    )
    return _rows(db.execute(sql, params))


def export_rows(
    db: Database,
    query: str | None = None,
    *,
    filters: Filters | None = None,
    raw: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every article matching the filters (and ``query``, best first, as ``search_rows``
    finds it), straight off the cursor."""
    filters = filters or Filters()
    where, params = filters.clauses()
    if query is None:
        source, order = "articles a", "a.published, a.url"
    else:
        rewritten = search_index.rewrite(query, raw=raw, keys=search_index.keys_for(filters.lang))
        weights: tuple[float, ...]
        if rewritten.exact or not search_index.index_is_current(db.conn):
            table, weights, params["q"] = "articles_fts", BM25_WEIGHTS, _match(db, query, raw)
        else:
            table, weights = search_index.SEARCH_TABLE, search_index.BM25_WEIGHTS
            params["q"] = rewritten.match
        source = f"{table} join articles a on a.rowid = {table}.rowid"
        order = f"bm25({table}, {', '.join(str(w) for w in weights)}), a.published desc"
        where.insert(0, f"{table} match :q")
    sql = (
        f"select a.* from {source}"  # noqa: S608  (fixed strings only)
        + (f" where {' and '.join(where)}" if where else "")
        + f" order by {order}"
    )
    return _rows(db.execute(sql, params))


def decode_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    """An articles row with its JSON columns (``ARTICLE_JSON_COLUMNS``, declared in
    ``ingest/store/schema.py``) as lists and objects rather than JSON text."""
    out = dict(row)
    for key in ARTICLE_JSON_COLUMNS:
        if isinstance(out.get(key), str):
            try:
                decoded = json.loads(out[key])
            except json.JSONDecodeError:
                decoded = out[key]  # keep the text as stored; an export must not lose a row
            out[key] = decoded
    return out


RUN_COLUMNS = [
    "started_at",
    "id",
    "spider",
    "trigger",
    "finish_reason",
    "stored",
    "dropped",
    "drops",
    "extraction",
    "titles",
    "site_share",
    "drift",
]
# Stats keys of pipelines/provenance.py (kept literal here: reading runs needs no pipeline).
_BODY_SOURCES = "ingest/extraction/body/"
_TITLE_SOURCES = "ingest/extraction/title/"
_SITE_SHARES = "ingest/extraction/site/"  # + <site>/share
_DRIFT = "ingest/drift/"  # + <site> (= 1 when the site drifted)


def _split(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    """Counts under ``prefix`` by the rest of the key, largest first (``site 30, generic 8``)."""
    counts = [(k.removeprefix(prefix), int(v)) for k, v in stats.items() if k.startswith(prefix)]
    return dict(sorted(counts, key=lambda kv: (-kv[1], kv[0])))


def provenance_columns(stats: dict[str, Any]) -> dict[str, Any]:
    """How a run's kept bodies and titles were found, each declared site's share of bodies its
    own selectors found, and the sites whose selectors drifted (pipelines/provenance.py)."""
    shares = {
        key.removeprefix(_SITE_SHARES).removesuffix("/share"): float(value)
        for key, value in sorted(stats.items())
        if key.startswith(_SITE_SHARES) and key.endswith("/share")
    }
    drift = [
        key.removeprefix(_DRIFT)
        for key, value in sorted(stats.items())
        if key.startswith(_DRIFT) and "/" not in key.removeprefix(_DRIFT) and value == 1
    ]
    return {
        "extraction": _split(stats, _BODY_SOURCES),
        "titles": _split(stats, _TITLE_SOURCES),
        "site_share": shares,
        "drift": drift,
    }


def run_rows(db: Database, limit: int = 10) -> list[dict[str, Any]]:
    """The last runs, newest first, from their Scrapy stats: stored and dropped counts, drops
    by reason, and provenance (``provenance_columns``)."""
    cursor = db.execute(
        "select id, spider, trigger, started_at, finished_at, finish_reason, stats "
        "from runs order by started_at desc limit ?",
        [limit],
    )
    out = []
    for row in _rows(cursor):
        stats: dict[str, Any] = json.loads(row.pop("stats") or "{}")
        drops = {
            key.removeprefix("ingest/dropped/"): int(value)
            for key, value in sorted(stats.items())
            if key.startswith("ingest/dropped/")
        }
        row["stored"] = int(stats.get("ingest/stored", 0))
        row["dropped"] = sum(drops.values())
        row["drops"] = drops
        row.update(provenance_columns(stats))
        out.append(row)
    return out


STATS_COLUMNS = ["site", "lang", "day", "articles"]


def article_stats(db: Database) -> list[dict[str, Any]]:
    """Articles per site, language and publication day (UTC, as stored)."""
    return list(
        _rows(
            db.execute(
                "select site, lang, substr(published, 1, 10) as day, count(*) as articles "
                "from articles group by 1, 2, 3 order by 1, 2, 3"
            )
        )
    )


TRANSLATION_COLUMNS = ["lang", "title", "published", "url", "stored"]


def story_id_for(db: Database, story_or_url: str) -> str | None:
    """The story a URL belongs to, or the argument itself when it is a known story id."""
    row = db.execute(
        "select story_id from translations where story_id = :v or url = :v "
        "union all select story_id from articles where url = :v and story_id is not null "
        "limit 1",
        {"v": story_or_url},
    ).fetchone()
    return None if row is None else str(row[0])


def translation_rows(db: Database, story_id: str) -> list[dict[str, Any]]:
    """Every language version of a story; ``stored`` says whether that page was crawled."""
    return list(
        _rows(
            db.execute(
                "select t.lang, a.title, a.published, t.url, a.url is not null as stored "
                "from translations t left join articles a on a.url = t.url "
                "where t.story_id = ? order by t.lang",
                [story_id],
            )
        )
    )
