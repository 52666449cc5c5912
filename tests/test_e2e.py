"""End to end: the real spider and pipelines crawl the bundled mirror on 127.0.0.1 into a
temporary database, twice; then the seed story, the drops and the links are checked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlite_utils import Database

from ingest.store.db import open_db

from .conftest import FIXTURES, token_f1
from .crawl_helpers import run_demo

SEED = json.loads((FIXTURES / "seed" / "expected.json").read_text("utf-8"))


def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every stored row but the fields that say when/which run fetched it."""
    volatile = {"fetched_at", "run_id"}
    order = {"articles": "url", "images": "article_url, position", "translations": "story_id, lang"}
    return {
        table: [
            {k: v for k, v in row.items() if k not in volatile}
            for row in db.table(table).rows_where(order_by=key)
        ]
        for table, key in order.items()
    }


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two demo crawls into one fresh database; the rows after each, the last run's stats."""
    db_file = tmp_path_factory.mktemp("e2e") / "demo.db"
    first_output = run_demo(db_file)
    first = snapshot(open_db(db_file))
    second_output = run_demo(db_file)
    db = open_db(db_file)
    runs = list(db.table("runs").rows_where("spider = 'rbc'", order_by="started_at"))
    return {
        "db": db,
        "first": first,
        "second": snapshot(db),
        "output": first_output,
        "second_output": second_output,
        "runs": runs,
        "stats": json.loads(runs[0]["stats"]),
    }


def test_at_least_30_articles_in_three_languages(crawled: dict[str, Any]) -> None:
    db: Database = crawled["db"]
    per_lang = dict(db.execute("select lang, count(*) from articles group by lang").fetchall())
    assert db.table("articles").count >= 30
    assert set(per_lang) == {"uk", "ru", "en"}
    # declared language agrees with detection on every page of the mirror
    assert (
        db.execute("select count(*) from articles where lang != lang_declared").fetchone()[0] == 0
    )


def test_language_never_comes_from_the_swapped_path(crawled: dict[str, Any]) -> None:
    db: Database = crawled["db"]
    by_path = db.execute(
        "select substr(url, 1, 25) as prefix, lang, count(*) from articles "
        "where url like 'https://www.rbc.ua/%' group by 1, 2"
    ).fetchall()
    langs = {(prefix, lang) for prefix, lang, _ in by_path}
    assert ("https://www.rbc.ua/rus/ne", "uk") in langs or any(
        p.startswith("https://www.rbc.ua/rus/") and lang == "uk" for p, lang in langs
    )
    assert not any(p.startswith("https://www.rbc.ua/rus/") and lang == "ru" for p, lang in langs)
    assert not any(p.startswith("https://www.rbc.ua/ukr/") and lang == "uk" for p, lang in langs)


def test_translations_link_the_language_versions(crawled: dict[str, Any]) -> None:
    db: Database = crawled["db"]
    full = db.execute(
        "select story_id from translations group by story_id having count(distinct lang) = 3"
    ).fetchall()
    assert len(full) >= 8
    # every translation URL of a crawled story is itself a stored article
    missing = db.execute(
        "select t.url from translations t left join articles a on a.url = t.url where a.url is null"
    ).fetchall()
    assert missing == []


def test_the_seed_story(crawled: dict[str, Any]) -> None:
    db: Database = crawled["db"]
    rows = list(db.table("articles").rows_where("title = ?", [SEED["title"]]))
    assert len(rows) == 1
    seed = rows[0]
    assert seed["lang"] == "en"
    assert seed["url"].startswith("https://newsukraine.rbc.ua/news/")
    assert token_f1(seed["body"], "\n".join(SEED["body"])) >= 0.99
    assert seed["body"].split("\n\n") == SEED["body"]
    for text in SEED["must_not_appear_in_body"]:
        assert text not in seed["body"]
    captions = [
        r["caption"] for r in db.table("images").rows_where("article_url = ?", [seed["url"]])
    ]
    assert SEED["caption"] in captions
    assert seed["published"] == "2025-07-04T14:56:00+00:00"  # 17:56 Kyiv summer time
    assert "<h2>Attack on Kyiv and US arms supply disruption</h2>" in seed["body_html"]


def test_no_caption_ever_reaches_a_body(crawled: dict[str, Any]) -> None:
    db: Database = crawled["db"]
    leaks = db.execute(
        "select a.url, i.caption from images i join articles a on a.url = i.article_url "
        "where i.caption is not null and instr(a.body, i.caption) > 0"
    ).fetchall()
    assert leaks == []
    for marker in ("Читайте також", "Читайте также", "Read also", "Google News", "ua en ru"):
        assert (
            db.execute(
                "select count(*) from articles where instr(body, ?) > 0", [marker]
            ).fetchone()[0]
            == 0
        ), marker


def test_bad_pages_are_counted_drops_and_the_crawl_goes_on(crawled: dict[str, Any]) -> None:
    stats = crawled["stats"]
    assert stats["finish_reason"] == "finished"
    assert stats.get("ingest/dropped/empty_page") == 1
    assert stats.get("ingest/dropped/non_html") == 1
    assert stats.get("ingest/dropped/too_short") == 2  # the video-only and the truncated page
    db: Database = crawled["db"]
    assert db.execute("select count(*) from articles where url like '%-test-%'").fetchone()[0] == 0
    assert "dropped:" in crawled["output"]
    assert "empty_page 1" in crawled["output"]


def test_robots_txt_is_honoured(crawled: dict[str, Any]) -> None:
    stats = crawled["stats"]
    assert stats.get("robotstxt/forbidden", 0) >= 1
    db: Database = crawled["db"]
    assert (
        db.execute("select count(*) from articles where url like '%/private/%'").fetchone()[0] == 0
    )


def test_second_crawl_is_idempotent(crawled: dict[str, Any]) -> None:
    assert crawled["second"] == crawled["first"]
    runs = crawled["runs"]
    assert len(runs) == 2
    assert [r["trigger"] for r in runs] == ["demo", "demo"]
    assert all(r["finish_reason"] == "finished" for r in runs)
    db: Database = crawled["db"]
    spiders = [r[0] for r in db.execute("select spider from runs order by started_at, spider")]
    assert sorted(spiders) == sorted(["rbc", "feed", "sitemap"] * 2)


def test_declared_sites_come_in_through_the_generic_spiders(crawled: dict[str, Any]) -> None:
    """Ukrainska Pravda from its RSS feeds, Euronews from its Google News sitemap (mirror)."""
    db: Database = crawled["db"]
    per_site = dict(db.execute("select site, count(*) from articles group by site").fetchall())
    assert per_site["pravda"] == 6
    assert per_site["euronews"] == 3
    sources = {
        site: sorted(str(s).split(","))
        for site, s in db.execute(
            "select site, group_concat(distinct source) from articles "
            "where site in ('pravda', 'euronews') group by site"
        )
    }
    assert sources == {  # the feeds and sitemap the site entries declare
        "pravda": [
            "https://www.pravda.com.ua/rss/view_news/",
            "https://www.pravda.com.ua/rus/rss/view_news/",
        ],
        "euronews": ["https://www.euronews.com/sitemaps/en/latest-news.xml"],
    }
    # the uk and ru versions of each Pravda story are linked by their shared id
    pairs = db.execute(
        "select count(*) from (select t.story_id from translations t join articles a "
        "on a.url = t.url where a.site = 'pravda' group by t.story_id having count(*) = 2)"
    ).fetchone()[0]
    assert pairs == 3
    assert "sites: rbc 39, pravda 6, euronews 3" in crawled["output"]


def test_fts_finds_the_seed_in_english_and_ukrainian(crawled: dict[str, Any]) -> None:
    db: Database = crawled["db"]
    hits = db.execute(
        "select a.lang from articles_fts join articles a on a.rowid = articles_fts.rowid "
        "where articles_fts match ? order by rank",
        ['"air defense"'],
    ).fetchall()
    assert ("en",) in hits
    assert 'search "air defense"' in crawled["output"]
