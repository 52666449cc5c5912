"""Crawling again: unchanged stored articles are not downloaded, changed ones get a revision,
young ones are checked with a conditional GET. Crawls run the real command against the mirror on
127.0.0.1 (its pages send ETag / Last-Modified and answer 304); the rest are unit tests."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.utils.test import get_crawler

from ingest.cli import cli
from ingest.crawl.incremental import Known, refetch_reason
from ingest.demo import MirrorMiddleware, mirror_root, serve
from ingest.items import ArticleItem, Image
from ingest.store.db import open_db
from pipelines.dedup import body_hash
from pipelines.storage import SQLitePipeline
from spiders.rbc import RbcSpider

from .conftest import FIXTURES
from .crawl_helpers import (
    copy_mirror,
    crawl,
    demo_stats,
    edit,
    every_row,
    last_run,
    run_demo,
)

CHANGED = "https://newsukraine.rbc.ua/news/hryvnia-deposit-rates-july-1751534100.html"
YOUNG = "https://newsukraine.rbc.ua/news/diia-map-invincibility-points-starlink-1751610600.html"
OLD = "https://newsukraine.rbc.ua/news/grain-harvest-2025-sea-exports-1751436420.html"
UPDATE = (
    "<p>Update: on Friday the National Bank said it would review the deposit guarantee limits "
    "in the autumn, after the banks publish their quarterly reports.</p>"
)
UPDATE_TEXT = "review the deposit guarantee limits"
# Midnight of 4 July 2025 in Kyiv: the mirror's newest day starts here.
LAST_DAY = datetime(2025, 7, 3, 21, 0, tzinfo=UTC)


def mirror_file(root: Path, url: str) -> Path:
    split = urlsplit(url)
    return root / str(split.hostname) / split.path.lstrip("/")


def add_paragraph(root: Path, url: str) -> None:
    """Edit an article's text on the mirror, as a newsroom update would."""
    edit(mirror_file(root, url), '<div class="txt">', '<div class="txt">\n' + UPDATE)


def article_paths(hits: list[tuple[str, int]], urls: set[str]) -> list[tuple[str, int]]:
    """The mirror requests (path, status) that were for one of ``urls``."""
    paths = {"/" + str(urlsplit(u).hostname) + urlsplit(u).path for u in urls}
    return [(path, status) for path, status in hits if path in paths]


def seen_rows(db_path: Path) -> dict[str, dict[str, Any]]:
    db = open_db(db_path, read_only=True)
    return {r["url"]: dict(r) for r in db.table("seen").rows}


def stored_urls(db_path: Path) -> set[str]:
    """Seen URLs that are stored articles (what the incremental check may skip)."""
    db = open_db(db_path, read_only=True)
    rows = db.execute(
        "select s.url from seen s where exists "
        "(select 1 from articles a where a.url = s.url or a.fetched_url = s.url)"
    ).fetchall()
    return {r[0] for r in rows}


# --- whole crawls against the mirror ----------------------------------------------------------


def test_a_second_demo_downloads_no_stored_article_and_changes_no_row(tmp_path: Path) -> None:
    db_path = tmp_path / "demo.db"
    first_output = run_demo(db_path)
    first_rows = every_row(open_db(db_path, read_only=True))
    first_seen = seen_rows(db_path)
    second_output = run_demo(db_path)
    db = open_db(db_path, read_only=True)
    stats = demo_stats(db_path)

    assert every_row(db) == first_rows  # fetched_at and run_id included
    assert stats.get("ingest/db/changes", 0) == 0  # SQLite's total_changes over the flushes
    assert stats.get("ingest/stored", 0) == 0
    assert db.table("revisions").count == 0
    stored = stored_urls(db_path)
    assert len(stored) == db.table("articles").count >= 30
    assert stats["ingest/skipped/unchanged"] == len(stored)
    # Only the pages that never became an article (empty, PDF, too short) were downloaded.
    not_stored = set(first_seen) - stored
    assert len(not_stored) == 4
    assert stats["ingest/incremental/downloaded"] == stats["ingest/incremental/new"] == 4
    assert "ingest/incremental/young" not in stats
    second_seen = seen_rows(db_path)
    assert {u: second_seen[u] for u in stored} == {u: first_seen[u] for u in stored}
    # The summary still counts from the database and says what was not downloaded.
    assert first_output.splitlines()[1] == second_output.splitlines()[1]  # "articles: 39 (...)"
    assert f"not downloaded again: unchanged {len(stored)}" in second_output


def test_an_article_changed_on_the_site_gets_a_revision(tmp_path: Path) -> None:
    root = copy_mirror(tmp_path)
    db_path = tmp_path / "news.db"
    with serve(root) as server:
        crawl(db_path, server.url)
        db = open_db(db_path, read_only=True)
        before = every_row(db)
        old = db.table("articles").get(CHANGED)
        stored = stored_urls(db_path)
        # The newsroom adds a paragraph; the page's dateModified and the feed say so.
        add_paragraph(root, CHANGED)
        page = mirror_file(root, CHANGED)
        edit(
            page,
            '"dateModified": "2025-07-03T12:29:00+03:00"',
            '"dateModified": "2025-07-05T09:00:00+03:00"',
        )
        rss = root / "newsukraine.rbc.ua" / "rss.xml"
        edit(
            rss,
            '<rss version="2.0">',
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
        )
        guid = f'<guid isPermaLink="true">{CHANGED}</guid>'
        edit(rss, guid, guid + "\n<atom:updated>2025-07-05T09:00:00+03:00</atom:updated>")
        server.hits.clear()
        stats = crawl(db_path, server.url)
        hits = list(server.hits)

    new = db.table("articles").get(CHANGED)
    assert UPDATE_TEXT in new["body"]
    assert UPDATE_TEXT not in old["body"]
    assert new["modified"] == "2025-07-05T06:00:00+00:00"
    assert new["run_id"] == last_run(db_path)["id"] != old["run_id"]
    revisions = [dict(r) for r in db.table("revisions").rows]
    assert len(revisions) == 1
    revision = revisions[0]
    assert revision["article_url"] == CHANGED
    for column in ("body", "body_hash", "title", "body_html", "modified", "fetched_at", "run_id"):
        assert revision[column] == old[column], column
    assert revision["revised_at"] >= old["fetched_at"]
    # Of the stored articles only the changed one was asked for, once, and downloaded.
    assert article_paths(hits, stored) == [("/" + CHANGED.split("://")[1], 200)]
    assert stats["ingest/incremental/changed"] == 1
    assert stats["ingest/stored/revised"] == stats["ingest/stored"] == 1
    assert stats["ingest/skipped/unchanged"] == len(stored) - 1
    after = every_row(db)
    assert [r for r in after["articles"] if r["url"] != CHANGED] == [
        r for r in before["articles"] if r["url"] != CHANGED
    ]
    assert after["images"] == before["images"]
    assert after["translations"] == before["translations"]
    hits_fts = db.execute(
        "select a.url from articles_fts join articles a on a.rowid = articles_fts.rowid "
        "where articles_fts match ?",
        ['"deposit guarantee limits"'],
    ).fetchall()
    assert hits_fts == [(CHANGED,)]


def test_young_articles_are_checked_again_and_old_ones_are_not(tmp_path: Path) -> None:
    root = copy_mirror(tmp_path)
    db_path = tmp_path / "news.db"
    # A refresh window that makes the mirror's last day (4 July) young and the rest old.
    window = int((datetime.now(UTC) - LAST_DAY).total_seconds())
    with serve(root) as server:
        crawl(db_path, server.url)
        db = open_db(db_path, read_only=True)
        young = {
            r[0]
            for r in db.execute(
                "select url from articles where published >= ?", [LAST_DAY.isoformat()]
            )
        }
        assert YOUNG in young
        assert OLD not in young
        assert 0 < len(young) < db.table("articles").count
        # Both pages change without any feed or date saying so.
        add_paragraph(root, YOUNG)
        add_paragraph(root, OLD)
        server.hits.clear()
        stats = crawl(db_path, server.url, "-s", f"INGEST_REFRESH_WINDOW={window}")
        hits = list(server.hits)

    assert stats["ingest/incremental/young"] == len(young)
    # The young ones were asked conditionally: unchanged ones answered 304, the edited one 200.
    asked = article_paths(hits, young)
    assert sorted(status for _, status in asked) == [200] + [304] * (len(young) - 1)
    assert stats["ingest/skipped/not_modified"] == len(young) - 1
    assert stats["ingest/stored/revised"] == 1
    assert [r["article_url"] for r in db.table("revisions").rows] == [YOUNG]
    assert UPDATE_TEXT in db.table("articles").get(YOUNG)["body"]
    assert UPDATE_TEXT not in db.table("articles").get(OLD)["body"]  # old: not downloaded
    assert article_paths(hits, {OLD}) == []
    seen = seen_rows(db_path)
    assert {seen[u]["status"] for u in young - {YOUNG}} == {304}


def test_conditional_get_304_and_full_recrawl_change_no_row(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    with serve(mirror_root("rbc")) as server:
        crawl(db_path, server.url)
        db = open_db(db_path, read_only=True)
        before = every_row(db)
        stored = stored_urls(db_path)
        seen_before = seen_rows(db_path)
        assert all(seen_before[u]["etag"] and seen_before[u]["last_modified"] for u in stored)

        # Every stored article is young: each is asked again with If-None-Match, each is a 304.
        server.hits.clear()
        stats = crawl(db_path, server.url, "-s", "INGEST_REFRESH_WINDOW=3000000000")
        assert stats["ingest/incremental/young"] == len(stored)
        assert stats["ingest/skipped/not_modified"] == len(stored)
        assert {status for _, status in article_paths(server.hits, stored)} == {304}
        assert every_row(db) == before
        assert db.table("articles").count == len(stored)  # a 304 never drops a stored article

        # --full: everything downloaded again (no conditional headers), nothing rewritten.
        server.hits.clear()
        stats = crawl(db_path, server.url, "--full")
        assert stats["ingest/incremental/full"] == len(stored)
        assert {status for _, status in article_paths(server.hits, stored)} == {200}
        assert stats["ingest/unchanged"] == len(stored)
        assert stats.get("ingest/stored", 0) == 0
        assert stats.get("ingest/db/changes", 0) == 0
        assert every_row(db) == before


# --- the decision, the spider's hints and storage, one at a time ------------------------------

NOW = datetime(2025, 7, 4, 18, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)


def known(published: str, modified: str | None = None, lastmod: str | None = None) -> Known:
    return Known(
        etag='"abc"', last_modified=None, lastmod=lastmod, published=published, modified=modified
    )


@pytest.mark.parametrize(
    ("state", "lastmod", "reason"),
    [
        (None, None, "new"),
        (known("2025-07-02T06:13:00+00:00"), None, None),
        (known("2025-07-02T06:13:00+00:00"), "2025-07-02T06:13:00+00:00", None),
        (known("2025-07-02T06:13:00+00:00"), "2025-07-02T09:13:00+03:00", None),  # same instant
        (known("2025-07-02T06:13:00+00:00"), "2025-07-03T08:00:00+00:00", "changed"),
        # the page's own dateModified already covers the feed's date
        (
            known("2025-07-02T06:13:00+00:00", "2025-07-03T09:00:00+00:00"),
            "2025-07-03T08:00:00+00:00",
            None,
        ),
        # a date seen in the feed before and already fetched
        (
            known("2025-07-02T06:13:00+00:00", None, "2025-07-03T08:00:00+00:00"),
            "2025-07-03T08:00:00+00:00",
            None,
        ),
        (known("2025-07-04T14:56:00+00:00"), None, "young"),  # 3 h old
        (known("2025-07-04T11:59:00+00:00"), None, None),  # just over 6 h
        (known("2025-07-02T06:13:00+00:00"), "not a date", None),
    ],
)
def test_refetch_reason(state: Known | None, lastmod: str | None, reason: str | None) -> None:
    assert refetch_reason(state, lastmod, SIX_HOURS, NOW) == reason


def spider() -> RbcSpider:
    made = get_crawler(RbcSpider)._create_spider()
    assert isinstance(made, RbcSpider)
    return made


def saved_listing() -> HtmlResponse:
    url = "https://www.rbc.ua/ukr/allnews/1"  # the /ukr/ pages, as in the feed below
    body = (FIXTURES / "rbc" / "allnews.html").read_bytes()
    return HtmlResponse(url=url, body=body, request=Request(url), encoding="utf-8")


def saved_feed() -> XmlResponse:
    url = "https://www.rbc.ua/static/rss/all.ukr.rss.xml"
    body = (FIXTURES / "rbc" / "feed.xml").read_bytes()
    return XmlResponse(url=url, body=body, request=Request(url))


def test_feed_dates_reach_the_article_requests() -> None:
    requests = list(spider().parse_feed(saved_feed()))
    assert requests
    assert all(r.meta["article"] is True for r in requests)
    first = requests[0]
    assert first.url == "https://www.rbc.ua/ukr/news/zelenskyy-trump-air-defense-1751640540.html"
    assert first.meta["lastmod"] == "2025-07-04T14:56:00+00:00"  # pubDate 17:56 +0300
    assert not first.dont_filter


def test_a_listing_after_the_feed_asks_for_nothing_again() -> None:
    """rbc reads a language's listing pages only after its feed (spiders/rbc.py), so the feed's
    date reaches the incremental check; the listing skips what the feed asked for."""
    s = spider()
    from_feed = {r.url: r for r in s.parse_feed(saved_feed())}
    assert all(r.meta["lastmod"] for r in from_feed.values())
    from_listing = [r for r in s.parse_listing(saved_listing()) if r.meta.get("article")]
    assert not any(r.url in from_feed for r in from_listing)
    assert s.crawler.stats is not None
    assert s.crawler.stats.get_value("ingest/filtered/listed_twice"), "the fixtures share articles"
    assert list(s.parse_feed(saved_feed())) == []  # each URL is asked for once


UK_URL = "https://www.rbc.ua/rus/news/zelenskiy-tramp-ppo-1751639400.html"
BODY = (
    "Під час телефонної розмови президенти обговорили постачання систем протиповітряної "
    "оборони та нічні атаки на Київ.\n\nСторони домовилися працювати разом над посиленням "
    "захисту неба, а команди найближчим часом зустрінуться."
)


def item(**changes: Any) -> ArticleItem:
    made = ArticleItem(
        url=UK_URL,
        fetched_url=UK_URL,
        site="rbc",
        fetched_at="2025-07-04T16:00:00+00:00",
        title="Зеленський і Трамп домовилися посилити ППО України",
        body=BODY,
        body_html="<p>…</p>",
        body_hash=body_hash(BODY),
        published="2025-07-04T14:56:00+00:00",
        lang="uk",
        story_id="1751639400",
        alternates={"uk": UK_URL},
        images=[Image(src="https://www.rbc.ua/static/img/a.jpg", caption="Фото", credit="РБК")],
    )
    return replace(made, **changes)


def store(db_path: Path, *items: ArticleItem) -> dict[str, Any]:
    """One storage run, as a crawl would make it; its stats."""
    crawler = get_crawler(RbcSpider, {"INGEST_DB": str(db_path)})
    crawler.spider = crawler._create_spider()
    pipeline = SQLitePipeline.from_crawler(crawler)
    pipeline.open_spider()
    for one in items:
        pipeline.process_item(one)
    pipeline.close_spider()
    pipeline.spider_closed(crawler.spider, "finished")
    assert crawler.stats is not None
    return dict(crawler.stats.get_stats())


def test_storing_an_unchanged_article_again_writes_nothing(db_path: Path) -> None:
    store(db_path, item())
    before = every_row(open_db(db_path))
    stats = store(db_path, item(fetched_at="2025-07-04T20:00:00+00:00"))
    assert every_row(open_db(db_path)) == before
    assert stats["ingest/unchanged"] == 1
    assert stats["ingest/db/changes"] == 0


def test_a_changed_body_keeps_the_old_version_and_images_follow(db_path: Path) -> None:
    store(db_path, item())
    first = open_db(db_path).table("articles").get(UK_URL)
    edited = BODY + " Оновлено: сторони також обговорили винищувачі."
    stats = store(
        db_path,
        item(
            body=edited,
            body_hash=body_hash(edited),
            fetched_at="2025-07-04T20:00:00+00:00",
            images=[Image(src="https://www.rbc.ua/static/img/b.jpg", caption="Нове фото")],
        ),
    )
    db = open_db(db_path)
    assert stats["ingest/stored/revised"] == 1
    assert db.table("articles").get(UK_URL)["body"] == edited
    revision = next(db.table("revisions").rows)
    assert (revision["body"], revision["fetched_at"]) == (BODY, first["fetched_at"])
    assert [r["src"] for r in db.table("images").rows] == ["https://www.rbc.ua/static/img/b.jpg"]
    # a change elsewhere (a tag) updates the row without a revision
    stats = store(db_path, item(body=edited, body_hash=body_hash(edited), tags=["ППО"],
                                images=[Image(src="https://www.rbc.ua/static/img/b.jpg", caption="Нове фото")]))  # fmt: skip
    assert stats["ingest/stored/updated"] == 1
    assert db.table("revisions").count == 1


# --- ingest seen, and the mirror a resumed crawl may find on another port ----------------------


def seed_seen(db_path: Path) -> None:
    """One stored article with its seen row, and one dropped page that has only a seen row."""
    store(db_path, item())
    db = open_db(db_path)
    pdf = "https://www.rbc.ua/rus/news/pdf-served-test-1751537040.html"
    rows: list[dict[str, Any]] = [
        {"url": UK_URL, "site": "rbc", "status": 200, "etag": '"1f2e"',
         "last_modified": "Fri, 04 Jul 2025 15:00:00 GMT", "lastmod": None,
         "body_hash": "ab" * 32, "fetched_at": "2025-07-04T16:00:00+00:00",
         "checked_at": "2025-07-04T16:00:00+00:00"},
        {"url": pdf, "site": "rbc", "status": 200, "checked_at": "2025-07-04T16:01:00+00:00"},
    ]  # fmt: skip
    db.table("seen").insert_all(rows)
    db.close()


def test_seen_list_stats_and_reset(db_path: Path) -> None:
    seed_seen(db_path)
    runner = CliRunner()
    listed = runner.invoke(cli, ["seen", "list", "--db", str(db_path), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["url"] for r in rows][1] == UK_URL  # most recently checked first
    assert rows[1]["etag"] == '"1f2e"'
    stats = runner.invoke(cli, ["seen", "stats", "--db", str(db_path)])
    assert stats.exit_code == 0, stats.output
    assert "rbc: 2 URLs seen, 1 stored as articles" in stats.output
    assert "with ETag 1" in stats.output
    # Without a filter, reset asks first; "n" keeps everything.
    refused = runner.invoke(cli, ["seen", "reset", "--db", str(db_path)], input="n\n")
    assert refused.exit_code == 1
    assert open_db(db_path).table("seen").count == 2
    reset = runner.invoke(cli, ["seen", "reset", "--db", str(db_path), "--url", UK_URL])
    assert reset.exit_code == 0, reset.output
    assert "forgot 1 URL(s)" in reset.output
    db = open_db(db_path)
    assert [r["url"] for r in db.table("seen").rows] == [rows[0]["url"]]
    assert db.table("articles").count == 1  # articles are kept
    everything = runner.invoke(cli, ["seen", "reset", "--db", str(db_path), "--yes"])
    assert "forgot 1 URL(s)" in everything.output
    assert db.table("seen").count == 0


def test_seen_without_a_database_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["seen", "stats", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "run a crawl first" in result.output


def test_the_mirror_rewrites_a_request_queued_for_another_port() -> None:
    middleware = MirrorMiddleware("http://127.0.0.1:5002")
    real = "https://www.rbc.ua/rus/news/x-1751639400.html"
    stale = Request(
        "http://127.0.0.1:5001/www.rbc.ua/rus/news/x-1751639400.html", meta={"mirror_of": real}
    )
    rewritten = middleware.process_request(stale)
    assert rewritten is not None
    assert rewritten.url == "http://127.0.0.1:5002/www.rbc.ua/rus/news/x-1751639400.html"
    assert rewritten.meta["mirror_of"] == real
    assert middleware.process_request(rewritten) is None  # already for this mirror
