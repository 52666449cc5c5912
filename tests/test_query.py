"""Query commands on a database built by the real demo crawl: search filters and formats,
read-only SQL (and what it refuses), export, runs, stats and translations."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlite_utils import Database

from ingest.cli import cli
from ingest.items import ArticleItem
from ingest.query import SEARCH_COLUMNS, guard_read_only
from ingest.store.db import open_db
from pipelines.storage import article_row

from .crawl_helpers import run_demo
from .test_e2e import SEED

SEED_URL = "https://newsukraine.rbc.ua/news/zelenskyy-trump-air-defense-1751640540.html"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo crawl of the bundled mirror; the tests only read it."""
    path = tmp_path_factory.mktemp("query") / "demo.db"
    run_demo(path)
    return path


@pytest.fixture(scope="module")
def db(demo_db: Path) -> Database:
    """A plain connection for the tests' own oracle queries."""
    return Database(demo_db)


def ingest(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: str | Path) -> str:
    result = ingest(*args)
    assert result.exit_code == 0, result.output
    return result.output


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# search


def test_search_ranks_the_seed_first_with_a_snippet(demo_db: Path) -> None:
    rows = json_lines(ok("search", "air defense", "--db", demo_db, "--json"))
    assert rows[0]["title"] == SEED["title"]
    assert rows[0]["url"] == SEED_URL
    assert "[air] [defense]" in rows[0]["snippet"]
    assert list(rows[0]) == SEARCH_COLUMNS
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores)


def test_search_language_filter_is_exact_and_repeatable(demo_db: Path, db: Database) -> None:
    # "Трамп" is spelled the same in Ukrainian and Russian: the filter alone decides.
    all_rows = json_lines(ok("search", "Трамп", "--db", demo_db, "--json", "--limit", "100"))
    assert {r["lang"] for r in all_rows} == {"uk", "ru"}
    uk = json_lines(ok("search", "Трамп", "--db", demo_db, "--json", "--lang", "uk"))
    assert uk
    assert {r["lang"] for r in uk} == {"uk"}
    both = ok("search", "Трамп", "--db", demo_db, "--json", "--lang", "uk", "--lang", "ru")
    assert len(json_lines(both)) == len(all_rows)
    assert ok("search", "Трамп", "--db", demo_db, "--lang", "en") == ""


def test_search_site_and_section_filters(demo_db: Path, db: Database) -> None:
    rows = json_lines(ok("search", "Київ", "--db", demo_db, "--json", "--site", "rbc"))
    assert rows
    assert ok("search", "Київ", "--db", demo_db, "--site", "nosuch") == ""
    section = db.execute("select section from articles where url = ?", [SEED_URL]).fetchone()[0]
    in_section = json_lines(
        ok("search", "Trump", "--db", demo_db, "--json", "--section", section, "--limit", "50")
    )
    assert SEED_URL in [r["url"] for r in in_section]
    assert {r["section"] for r in in_section} == {section}


def test_search_date_range_is_inclusive_by_utc_day(demo_db: Path, db: Database) -> None:
    def urls(*extra: str) -> set[str]:
        out = ok("search", "Ukraine", "--db", demo_db, "--json", "--limit", "100", *extra)
        return {r["url"] for r in json_lines(out)}

    every = urls()
    days = dict(
        db.execute(
            "select url, substr(published, 1, 10) from articles where url in "
            "(select value from json_each(?))",
            [json.dumps(sorted(every))],
        ).fetchall()
    )
    assert len(set(days.values())) > 1  # the range filters really cut something
    on_3rd = urls("--since", "2025-07-03", "--until", "2025-07-03")
    assert on_3rd == {u for u, d in days.items() if d == "2025-07-03"}
    assert on_3rd
    assert urls("--until", "2025-07-03") == {u for u, d in days.items() if d <= "2025-07-03"}
    # a date-time bound compares instants: 17:56 Kyiv summer time is 14:56 UTC
    assert SEED_URL in urls_en("--since", "2025-07-04T17:56:00+03:00", demo_db=demo_db)
    assert SEED_URL not in urls_en("--since", "2025-07-04T17:56:01+03:00", demo_db=demo_db)


def urls_en(*extra: str, demo_db: Path) -> set[str]:
    out = ok("search", "air defense", "--db", demo_db, "--json", "--lang", "en", *extra)
    return {r["url"] for r in json_lines(out)}


def test_search_rejects_a_date_it_cannot_read(demo_db: Path) -> None:
    result = ingest("search", "x", "--db", demo_db, "--since", "last week")
    assert result.exit_code == 2
    assert "expected YYYY-MM-DD" in result.output


def test_search_csv_and_table_carry_the_same_rows(demo_db: Path) -> None:
    args = ("search", "air defense", "--db", demo_db, "--limit", "5")
    from_json = json_lines(ok(*args, "--json"))
    from_csv = list(csv.DictReader(io.StringIO(ok(*args, "--csv"))))
    assert [r["url"] for r in from_csv] == [r["url"] for r in from_json]
    assert from_csv[0]["snippet"] == from_json[0]["snippet"]
    assert list(from_csv[0]) == SEARCH_COLUMNS
    table = ok(*args).splitlines()
    assert table[0].split() == SEARCH_COLUMNS
    assert set(table[1]) == {"-", " "}
    assert len(table) == 2 + len(from_json)
    assert SEED_URL in table[2]  # URLs are never cut
    assert table[2].startswith("2025-07-04 14:56")


def test_search_quotes_plain_queries_and_passes_raw_fts(demo_db: Path) -> None:
    # FTS5 operators in a plain query are words; with --raw they work, and bad syntax is an error
    assert ok("search", "Hegseth OR nonexistentword", "--db", demo_db) == ""
    raw = json_lines(ok("search", "Hegseth OR nonexistentword", "--raw", "--json", "--db", demo_db))
    assert [r["url"] for r in raw] == [SEED_URL]
    assert json_lines(ok("search", "Zelensk*", "--raw", "--json", "--lang", "en", "--db", demo_db))
    result = ingest("search", 'air" OR (', "--raw", "--db", demo_db)
    assert result.exit_code == 1
    assert "bad search query" in result.output


def test_search_weighs_a_title_match_above_a_body_mention(tmp_path: Path) -> None:
    path = tmp_path / "rank.db"
    store(
        path,
        [
            news(1, "Grain exports rise", "Officials discussed air defense once. " * 3),
            news(2, "Air defense systems arrive in Kyiv", "The systems arrived on Friday. " * 3),
        ],
    )
    rows = json_lines(ok("search", "air defense", "--db", path, "--json"))
    assert [r["url"] for r in rows] == ["https://example.com/2", "https://example.com/1"]


def news(n: int, title: str, body: str, **fields: Any) -> ArticleItem:
    return ArticleItem(
        url=f"https://example.com/{n}",
        fetched_url=f"https://example.com/{n}",
        site="example",
        fetched_at="2025-07-05T00:00:00+00:00",
        title=title,
        body=body,
        body_html="".join(f"<p>{p}</p>" for p in body.split("\n\n")),
        lang="en",
        published=f"2025-07-0{1 + n % 4}T10:00:00+00:00",
        authors=["Staff"],
        **fields,
    )


def store(path: Path, items: list[ArticleItem]) -> None:
    """Rows as the storage pipeline writes them."""
    target = open_db(path)
    target.table("articles").insert_all([article_row(i) for i in items])
    target.close()


# query


def test_query_runs_a_select_with_bound_parameters(demo_db: Path, db: Database) -> None:
    out = ok(
        "query",
        "select lang, count(*) as n from articles where site = :site group by lang order by lang",
        "-p",
        "site",
        "rbc",
        "--db",
        demo_db,
        "--json",
    )
    expected = db.execute(
        "select lang, count(*) from articles where site = 'rbc' group by lang order by lang"
    )
    assert [(r["lang"], r["n"]) for r in json_lines(out)] == expected.fetchall()
    fts = ok(
        "query",
        "select a.title from articles_fts join articles a on a.rowid = articles_fts.rowid "
        "where articles_fts match 'Hegseth'",
        "--db",
        demo_db,
        "--csv",
    )
    assert list(csv.reader(io.StringIO(fts))) == [["title"], [SEED["title"]]]
    schema = ok("query", "select name from pragma_table_info('runs')", "--db", demo_db, "--json")
    assert "stats" in [r["name"] for r in json_lines(schema)]


REFUSED = [
    ("insert", "insert into runs (id) values ('x')", "INSERT runs"),
    ("update", "update articles set title = 'x'", "UPDATE articles"),
    ("delete", "delete from translations", "DELETE translations"),
    ("drop", "drop table images", "schema change"),
    ("create", "create table t (x)", "schema change"),
    ("create temp", "create temp table t (x)", "schema change"),
    ("pragma query_only off", "pragma query_only = 0", "PRAGMA query_only = 0"),
    ("pragma journal_mode", "pragma journal_mode = delete", "PRAGMA journal_mode"),
    ("pragma writable_schema", "pragma writable_schema = 1", "PRAGMA writable_schema"),
    ("attach memory", "attach ':memory:' as m", "ATTACH :memory:"),
    ("load_extension", "select load_extension('/nonexistent/evil.so')", "load_extension"),
    ("begin", "begin immediate", "TRANSACTION"),
]


@pytest.mark.parametrize(("sql", "reason"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_query_refuses_writes_attach_and_extensions(demo_db: Path, sql: str, reason: str) -> None:
    before = sha256(demo_db)
    result = ingest("query", sql, "--db", demo_db)
    assert result.exit_code == 1, result.output
    assert "refused" in result.output
    assert reason in result.output
    assert "read-only" in result.output
    assert sha256(demo_db) == before


def test_query_attempts_leave_the_file_and_its_folder_as_they_were(
    demo_db: Path, tmp_path: Path
) -> None:
    """ATTACH and VACUUM INTO would create files even on a read-only connection."""
    folder = demo_db.parent
    before, listing = sha256(demo_db), set(folder.iterdir())
    copy_target, attach_target = tmp_path / "copy.db", tmp_path / "attached.db"
    attempts = [
        f"vacuum into '{copy_target}'",
        f"attach '{attach_target}' as x",
        "attach ':memory:' as m",
        "select load_extension('libevil')",
        "insert into runs (id) values ('x')",
        "pragma query_only = off",
        "delete from articles",
        "drop table articles",
        "reindex",
        "analyze",
        "select 1; delete from articles",
        "update sqlite_master set sql = 'x' where name = 'runs'",
    ]
    for sql in attempts:
        result = ingest("query", sql, "--db", demo_db)
        assert result.exit_code == 1, (sql, result.output)
    assert not copy_target.exists()
    assert not attach_target.exists()
    assert sha256(demo_db) == before
    # SQLite's WAL index files may appear beside a WAL database; nothing else may
    assert {p.name for p in set(folder.iterdir()) - listing} <= {"demo.db-wal", "demo.db-shm"}
    assert ok("query", "select count(*) as n from articles", "--db", demo_db, "--json")


def test_the_authorizer_alone_stops_writes_on_a_writable_connection(tmp_path: Path) -> None:
    """Each layer holds on its own: here neither mode=ro nor query_only is set."""
    path = tmp_path / "w.db"
    store(path, [news(1, "Title", "Body text.")])
    conn = sqlite3.connect(path)
    guard = guard_read_only(conn)
    for sql in (
        "update articles set title = 'x'",
        "attach ':memory:' as m",
        "pragma user_version = 7",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            conn.execute(sql)
    assert conn.execute("select title from articles").fetchone() == ("Title",)
    assert conn.execute("pragma user_version").fetchone() == (0,)
    assert len(guard.refused) == 3
    conn.close()


def test_query_reports_plain_sql_errors_as_such(demo_db: Path) -> None:
    result = ingest("query", "select nosuchcolumn from articles", "--db", demo_db)
    assert result.exit_code == 1
    assert "SQL error: no such column: nosuchcolumn" in result.output


# export


def test_export_jsonl_is_every_filtered_article_with_json_fields_decoded(
    demo_db: Path, db: Database
) -> None:
    rows = json_lines(ok("export", "--db", demo_db, "--lang", "en", "--until", "2025-07-03"))
    expected = db.execute(
        "select url from articles where lang = 'en' and published < '2025-07-04' "
        "order by published, url"
    ).fetchall()
    assert [r["url"] for r in rows] == [u for (u,) in expected]
    assert len(rows) >= 5
    assert all(isinstance(r["authors"], list) and isinstance(r["tags"], list) for r in rows)
    assert all(isinstance(r["alternates"], dict) for r in rows)
    columns = [c[0] for c in db.execute("select * from articles limit 0").description]
    assert list(rows[0]) == columns


def test_export_csv_to_a_file_round_trips_the_text(
    demo_db: Path, db: Database, tmp_path: Path
) -> None:
    target = tmp_path / "en.csv"
    result = ingest("export", "--db", demo_db, "--lang", "en", "--format", "csv", "-o", target)
    assert result.exit_code == 0, result.output
    with target.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == db.execute("select count(*) from articles where lang = 'en'").fetchone()[0]
    assert f"{len(rows)} articles written" in result.output
    seed = next(r for r in rows if r["url"] == SEED_URL)
    stored = next(db.table("articles").rows_where("url = ?", [SEED_URL]))
    assert seed["body"] == stored["body"]  # paragraphs, quotes and commas survive CSV
    assert "\n\n" in seed["body"]
    assert json.loads(seed["authors"]) == json.loads(stored["authors"])


def test_export_with_a_query_is_ranked_and_filtered(demo_db: Path) -> None:
    rows = json_lines(ok("export", "Hegseth OR Трамп", "--raw", "--db", demo_db, "--lang", "en"))
    assert [r["url"] for r in rows] == [SEED_URL]
    assert rows[0]["body"].split("\n\n") == SEED["body"]
    assert ok("export", "nonexistentword", "--db", demo_db) == ""


def test_export_streams_rather_than_holding_every_row(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    paragraph = "Ukraine's energy system held up overnight; repair crews worked in three regions. "
    body = "\n\n".join([paragraph * 6] * 6)  # about 3 KB per article
    store(path, [news(n, f"Story {n}", body) for n in range(3000)])
    target = tmp_path / "all.jsonl"
    tracemalloc.start()
    try:
        result = ingest("export", "--db", path, "-o", target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    size = target.stat().st_size
    assert size > 9_000_000
    assert len(target.read_text(encoding="utf-8").splitlines()) == 3000
    assert peak < size / 5, f"peak {peak} bytes for a {size}-byte export"


# runs, stats, translations


def test_runs_show_counts_and_drop_reasons_from_the_stats(demo_db: Path, db: Database) -> None:
    rows = json_lines(ok("runs", "--db", demo_db, "--json"))
    assert sorted(r["spider"] for r in rows) == ["feed", "rbc", "sitemap"]  # one demo
    run = next(r for r in rows if r["spider"] == "rbc")
    stats = json.loads(db.execute("select stats from runs where spider = 'rbc'").fetchone()[0])
    assert run["trigger"] == "demo"
    assert run["finish_reason"] == "finished"
    rbc_articles = db.execute("select count(*) from articles where site = 'rbc'").fetchone()[0]
    assert run["stored"] == stats["ingest/stored"] == rbc_articles
    assert run["drops"] == {"empty_page": 1, "non_html": 1, "too_short": 2}
    assert run["dropped"] == 4
    assert sum(r["stored"] for r in rows) == db.table("articles").count
    table = ok("runs", "--db", demo_db)
    assert "empty_page 1, non_html 1, too_short 2" in table
    assert table.splitlines()[0].split() == [
        "started_at", "id", "spider", "trigger", "finish_reason", "stored", "dropped", "drops",
        "extraction", "titles", "site_share", "drift",
    ]  # fmt: skip
    assert set(run["extraction"]) == {"site"}  # rbc's own selectors found every body


def test_runs_newest_first_and_limited(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    target = open_db(path)
    target.table("runs").insert_all(
        {
            "id": f"run{n}",
            "spider": "rbc",
            "trigger": "scheduled",
            "started_at": f"2025-07-0{n}T06:00:00+00:00",
            "stats": json.dumps({"ingest/stored": n, "ingest/dropped/duplicate": n}),
        }
        for n in range(1, 5)
    )
    target.close()
    rows = json_lines(ok("runs", "--db", path, "--json", "--limit", "2"))
    assert [(r["id"], r["stored"], r["dropped"]) for r in rows] == [("run4", 4, 4), ("run3", 3, 3)]


def test_stats_count_articles_per_site_language_and_day(demo_db: Path, db: Database) -> None:
    rows = json_lines(ok("stats", "--db", demo_db, "--json"))
    assert sum(r["articles"] for r in rows) == db.table("articles").count
    assert {r["lang"] for r in rows} == {"uk", "ru", "en"}
    # RBC's mirror covers 2-4 July 2025; the Pravda and Euronews mirrors start on the 1st.
    assert {r["day"] for r in rows} == {"2025-07-01", "2025-07-02", "2025-07-03", "2025-07-04"}
    assert {r["site"] for r in rows} == {"rbc", "pravda", "euronews"}
    seed_day = next(r for r in rows if r["lang"] == "en" and r["day"] == "2025-07-04")
    assert (
        seed_day["articles"]
        == db.execute(
            "select count(*) from articles where lang = 'en' and published like '2025-07-04%'"
        ).fetchone()[0]
    )
    from_csv = list(csv.DictReader(io.StringIO(ok("stats", "--db", demo_db, "--csv"))))
    assert [int(r["articles"]) for r in from_csv] == [r["articles"] for r in rows]


def test_translations_by_url_or_story_id(demo_db: Path) -> None:
    by_url = json_lines(ok("translations", SEED_URL, "--db", demo_db, "--json"))
    assert [r["lang"] for r in by_url] == ["en", "ru", "uk"]
    assert all(r["stored"] is True for r in by_url)
    assert by_url[0]["title"] == SEED["title"]
    assert by_url[0]["url"] == SEED_URL
    by_id = json_lines(ok("translations", "1751640540", "--db", demo_db, "--json"))
    assert by_id == by_url
    table = ok("translations", "1751640540", "--db", demo_db)
    assert table.startswith("story 1751640540\n")
    assert "Зеленський" in table


def test_translations_of_an_unknown_story(demo_db: Path) -> None:
    result = ingest("translations", "https://example.com/nope", "--db", demo_db)
    assert result.exit_code == 1
    assert "no story with id or URL" in result.output


@pytest.mark.parametrize(
    "command", [["search", "x"], ["query", "select 1"], ["export"], ["runs"], ["stats"]]
)
def test_every_query_command_says_what_to_do_without_a_database(
    command: list[str], tmp_path: Path
) -> None:
    result = ingest(*command, "--db", tmp_path / "none.db")
    assert result.exit_code == 1
    assert "run a crawl first" in result.output
    assert not (tmp_path / "none.db").exists()
