"""Morphology-aware search (issue 12): the analysis, query rewriting, storage keeping the index,
the in-place upgrade of a previous release's database, the demo, and plain clients."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner

from ingest.cli import cli
from ingest.query import Filters, open_guarded, search_rows
from ingest.store import search_index
from ingest.store.db import NotOurDatabase, migrations, open_db

from .crawl_helpers import run_demo

STORIES = Path(__file__).resolve().parents[1] / "tools" / "mirror" / "rbc_stories"
UKRAINE_UK = ["україна", "україни", "україні", "україну", "україною", "україно"]


@pytest.mark.parametrize(
    ("lang", "query", "text"),
    [
        ("uk", "вітер", "вітру"),
        ("uk", "кінець", "кінця"),
        ("uk", "Україна", "Україною"),
        ("uk", "Рада", "Ради"),
        ("uk", "Трамп", "Трампа"),
        ("ru", "отец", "отца"),
        ("ru", "сон", "сна"),
        ("ru", "ребёнок", "ребенка"),
        ("en", "defense", "defenses"),
    ],
)
def test_a_word_and_its_inflected_form_share_a_term(lang: str, query: str, text: str) -> None:
    key = search_index.analyser_key(lang)
    assert search_index.ANALYSERS.term(query, key) == search_index.ANALYSERS.term(text, key)


def test_index_terms_are_one_per_word_of_the_article() -> None:
    text = "Верховна Рада, 1930-х років: м'ясо й Украї́на_2"
    analysed = search_index.ANALYSERS.text(text, "uk")
    assert len(analysed.split()) == len(search_index.WORD.findall(text))


def _stored(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    db.table("articles").insert_all(rows)
    search_index.index_articles(db.conn, [r["url"] for r in rows])
    db.conn.commit()


ROWS = [
    {"url": "u:1", "site": "t", "lang": "uk", "fetched_at": "x", "published": "2025-07-01",
     "story_id": "s1", "title": "Верховна Рада ухвалила закон про Україну",
     "lead": "Депутати Верховної Ради проголосували.",
     "body": "Під час засідання Верховної Ради говорили про вітру кінця та Трампа."},
    {"url": "r:1", "site": "t", "lang": "ru", "fetched_at": "x", "published": "2025-07-01",
     "story_id": "s1", "title": "Верховная Рада приняла закон об Украине",
     "lead": "Депутаты проголосовали.", "body": "Отца не было, сна тоже."},
    {"url": "e:1", "site": "t", "lang": "en", "fetched_at": "x", "published": "2025-07-01",
     "story_id": "s1", "title": "Parliament passes a law on Ukraine",
     "lead": "Members voted.", "body": "The defenses held."},
]  # fmt: skip


@pytest.fixture
def small_db(tmp_path: Path) -> sqlite_utils.Database:
    db = open_db(tmp_path / "small.db")
    _stored(db, [dict(r) for r in ROWS])
    return db


def _urls(db: sqlite_utils.Database, query: str, **kw: Any) -> list[str]:
    return [r["url"] for r in search_rows(db, query, limit=50, **kw)]


def test_queries_in_dictionary_form_find_inflected_words(small_db: sqlite_utils.Database) -> None:
    assert _urls(small_db, "Україна", filters=Filters(lang=("uk",))) == ["u:1"]
    assert _urls(small_db, "Украина") == ["r:1"]
    assert _urls(small_db, "вітер кінець") == ["u:1"]
    assert _urls(small_db, "отец") == ["r:1"]
    assert _urls(small_db, "сон") == ["r:1"]
    assert _urls(small_db, "defense") == ["e:1"]


def test_phrases_near_and_columns_keep_their_fts5_meaning(small_db: sqlite_utils.Database) -> None:
    assert "u:1" in _urls(small_db, '"Верховна Рада"')
    assert _urls(small_db, '"Рада Верховна"') == []
    assert _urls(small_db, 'NEAR("Верховна Рада" Трамп, 12)', raw=True) == ["u:1"]
    assert _urls(small_db, "Верховна NOT Трамп", raw=True, filters=Filters(lang=("uk",))) == []
    assert _urls(small_db, "title : закон", raw=True, filters=Filters(lang=("uk",))) == ["u:1"]
    assert _urls(small_db, "lead : закон", raw=True) == []


def test_a_prefix_matches_the_words_as_written(small_db: sqlite_utils.Database) -> None:
    assert _urls(small_db, "Украї*", raw=True) == ["u:1"]
    assert _urls(small_db, "вітер*", raw=True) == []  # the article wrote "вітру"


def test_snippets_show_the_articles_own_words(small_db: sqlite_utils.Database) -> None:
    (row,) = search_rows(small_db, "вітер", filters=Filters(lang=("uk",)))
    assert "[вітру]" in row["snippet"]
    (row,) = search_rows(small_db, '"Верховна Рада"', filters=Filters(lang=("uk",)))
    assert "[Верховної] [Ради]" in row["snippet"] or "[Верховна] [Рада]" in row["snippet"]
    assert list(row) == ["published", "lang", "site", "section", "title", "snippet", "url", "score"]


def test_the_title_weighs_most(tmp_path: Path) -> None:
    db = open_db(tmp_path / "rank.db")
    base = {"site": "t", "lang": "uk", "fetched_at": "x", "lead": ""}
    _stored(
        db,
        [
            {**base, "url": "body", "title": "Новини дня", "body": "Про Україну і світ."},
            {**base, "url": "title", "title": "Україна сьогодні", "body": "Новини і світ."},
        ],
    )
    assert _urls(db, "Україна") == ["title", "body"]


def test_storage_indexes_new_and_changed_articles(tmp_path: Path) -> None:
    from pipelines.dedup import body_hash

    from .test_incremental import UK_URL, item, store

    path = tmp_path / "crawl.db"
    store(path, item(body="Нічні удари по Києву."))
    db = open_db(path)
    assert _urls(db, "Київ") == [UK_URL]
    db.close()
    changed = "Сильного вітру не було."
    store(path, item(body=changed, body_hash=body_hash(changed)))
    db = open_db(path)
    assert _urls(db, "Київ") == []
    assert _urls(db, "вітер") == [UK_URL]
    assert db.execute("select count(*) from articles_search").fetchone()[0] == 1
    db.close()


def _demo_like_rows() -> list[dict[str, Any]]:
    """Articles as the demo stores them: every language version of the bundled RBC stories."""
    rows = []
    for path in sorted(STORIES.glob("*.json")):
        story = json.loads(path.read_text(encoding="utf-8"))
        for lang, version in story["versions"].items():
            body = "\n\n".join(p for p in version["body"] if isinstance(p, str))
            rows.append(
                {"url": f"https://www.rbc.ua/{lang}/{story['slug']}", "site": "rbc",
                 "lang": lang, "title": version["title"], "lead": version.get("lead", ""),
                 "body": body, "published": story["published"], "fetched_at": "2025-07-04",
                 "story_id": story["slug"], "tags": json.dumps(version.get("tags", []))}
            )  # fmt: skip
    return rows


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    tables = ("articles", "images", "translations", "runs", "seen", "revisions")
    out = {t: conn.execute(f"select * from {t} order by rowid").fetchall() for t in tables}  # noqa: S608
    conn.close()
    return out


def test_a_previous_release_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "previous.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m007_extraction_source")  # main before this work: m001-m006
    assert "articles_search" not in db.table_names()
    rows = _demo_like_rows()
    db.table("articles").insert_all(rows)
    db.table("translations").insert_all(
        [{"story_id": r["story_id"], "lang": r["lang"], "url": r["url"]} for r in rows]
    )
    db.table("runs").insert({"id": "r1", "spider": "rbc", "stats": "{}"})
    db.close()
    before = _dump(path)

    upgraded = open_db(path)
    after = _dump(path)
    for table, old_rows in before.items():
        width = len(old_rows[0]) if old_rows else 0
        # The same rows, in the same order; only columns added since are new (and empty).
        assert [r[:width] for r in after[table]] == old_rows, table
        assert all(set(r[width:]) <= {None, 0} for r in after[table]), table
    count = upgraded.execute("select count(*) from articles_search").fetchone()[0]
    assert count == len(rows)
    found = _urls(upgraded, "Україна", filters=Filters(lang=("uk",)))
    ukrainian = [r for r in rows if r["lang"] == "uk"]
    assert set(found) == {r["url"] for r in ukrainian if _names_ukraine(r)}
    upgraded.close()


def _names_ukraine(row: dict[str, Any]) -> bool:
    words = re.findall(r"\w+", " ".join([row["title"], row["lead"] or "", row["body"]]).lower())
    return any(w in UKRAINE_UK for w in words)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_foreign_or_newer_file_is_refused_untouched(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 100)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("create table things (id integer primary key, name text)")
    conn.commit()
    conn.close()
    newer = tmp_path / "newer.db"
    open_db(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute(
        "insert into _sqlite_migrations (migration_set, name, applied_at) "
        "values ('ingest', 'm999_from_the_future', 'later')"
    )
    conn.commit()
    conn.close()
    for path, message in (
        (text, "not a news-ingest database"),
        (other, "not a news-ingest one"),
        (newer, "newer news-ingest"),
    ):
        digest = _digest(path)
        with pytest.raises(NotOurDatabase, match=message):
            open_db(path)
        result = CliRunner().invoke(cli, ["db", "reindex", "--db", str(path)])
        assert result.exit_code == 1
        assert message in result.output
        assert _digest(path) == digest


def test_reindex_rebuilds_the_index(small_db: sqlite_utils.Database, tmp_path: Path) -> None:
    small_db.execute("update articles set body = 'Про вітер.' where url = 'r:1'")
    small_db.conn.commit()
    small_db.close()
    path = tmp_path / "small.db"
    result = CliRunner().invoke(cli, ["db", "reindex", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 articles" in result.output
    db, _ = open_guarded(path)
    assert "r:1" in _urls(db, "вітер")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search-demo") / "demo.db"
    run_demo(path)
    return path


def test_ingest_search_ukraine_finds_every_ukrainian_article_naming_it(demo_db: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["search", "Україна", "--db", str(demo_db), "--lang", "uk", "--limit", "1000", "--json"],
    )
    assert result.exit_code == 0, result.output
    found = {json.loads(line)["url"] for line in result.output.splitlines()}
    conn = sqlite3.connect(demo_db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("select * from articles where lang = 'uk'")]
    conn.close()
    expected = {r["url"] for r in rows if _names_ukraine(r)}
    assert len(expected) >= 12
    assert found == expected


def test_search_with_translations_lists_the_other_versions(demo_db: Path) -> None:
    result = CliRunner().invoke(
        cli, ["search", "Трампа", "--db", str(demo_db), "--lang", "uk", "--translations", "--json"]
    )
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert hits
    langs = {v["lang"] for v in hits[0]["translations"]}
    assert {"ru", "en"} <= langs
    assert "uk" not in langs
    table = CliRunner().invoke(
        cli, ["search", "Трамп", "--db", str(demo_db), "--lang", "uk", "--translations"]
    )
    assert "      ru: " in table.output


def test_plain_clients_still_search_the_exact_words(demo_db: Path) -> None:
    # No function of ours anywhere in the schema: a plain connection reads and searches it.
    conn = sqlite3.connect(demo_db)
    schema = " ".join(r[0] or "" for r in conn.execute("select sql from sqlite_master"))
    assert "articles_search" in schema
    assert "tokenize = 'unicode61" in schema
    hits = conn.execute(
        "select count(*) from articles_search where articles_search match 'україна'"
    ).fetchone()[0]
    assert hits > 0
    conn.close()
    sqlite_utils_cli = Path(sys.executable).with_name("sqlite-utils")
    result = subprocess.run(
        [str(sqlite_utils_cli), "search", str(demo_db), "articles", "Зеленський", "--csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) > 1
