"""The feed, sitemap and warc spiders: callbacks on saved responses (tests/fixtures/feeds), the
WARC writer and replay, validation's cross-checks, and end to end: crawls of a loopback mirror
of real pages (tests/fixtures/news_pages) from hand-made feeds and sitemaps, then a replay of
the first crawl's WARC into a second database that must hold the same articles."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response, XmlResponse
from scrapy.utils.test import get_crawler

from ingest.crawl.incremental import ARTICLE, LASTMOD
from ingest.crawl.warc import (
    RECORD_META,
    WarcReplayMiddleware,
    WarcWriterMiddleware,
    iter_records,
    load_response,
)
from ingest.dates import parse_iso
from ingest.demo import serve
from ingest.extract import extract_page
from ingest.items import ArticleItem, Listing
from ingest.store.db import open_db
from pipelines.validation import ValidationPipeline
from spiders.feed import FeedSpider
from spiders.sitemap import SitemapSpider
from spiders.warc import WarcSpider

from .conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
PAGES = FIXTURES / "news_pages"
S = TypeVar("S", bound=Spider)

# Real pages, under the URLs the hand-made feeds and sitemaps give them.
EURONEWS = "https://www.euronews.com/2026/01/06/as-trump-pitches-venezuelan-oil-dream-for-us-companies-experts-warn-it-wont-be-cheap-or-ea"
FIGARO = "https://www.lefigaro.fr/international/guerre-en-ukraine-deux-morts-dans-des-frappes-russes-dans-le-nord-est-du-pays-20241122"
ELPAIS = "https://elpais.com/internacional/2024-10-15/bruselas-sondea-la-apertura-de-centros-de-deportacion-fuera-de-la-union-europea.html"
KOMMERSANT = "https://www.kommersant.ru/doc/7715044"
BR = "https://www.br.de/nachrichten/bayern/oepnv-streiks-ein-existenzielles-problem-fuer-beschaeftigte,VGqtssT"
RP = "https://www.rp.pl/konflikty-zbrojne/art44186001-iran-zrezygnowal-z-drugiej-rundy-rozmow-z-usa-powodem-wygorowane-zadania-waszyngtonu"
PRAVDA = "https://www.pravda.com.ua/rus/articles/2026/01/08/8015225/"
FOOTBALL = "https://football.ua/germany/311510-podolski-zavershil-kareru-v-sbornojj.html"
SERVED = {
    "en_euronews_2026-01-06_en": EURONEWS,
    "fr_lefigaro_2024-11-22_fr": FIGARO,
    "es_elpais_2024-10-15_es": ELPAIS,
    "ru_kommersant_2025-05-14_ru": KOMMERSANT,
    "de_br_2026-04-15_de": BR,
    "pl_rzeczpospolita_2026-04-19_pl": RP,
    "ua_pravda_rus_2026-01-08_ru": PRAVDA,
    "ua_football_2016-08-15_ru-body_uk-footer": FOOTBALL,
}
DOMAINS = "euronews.com,lefigaro.fr,elpais.com,kommersant.ru,br.de,rp.pl,pravda.com.ua"
WORLD = "https://news.example.org/feeds/world.rss"
EUROPE = "https://news.example.org/feeds/europe.atom"
INDEX = "https://news.example.org/sitemaps/index.xml"
CRAWL_TIMEOUT = 120


def make(cls: type[S], **kwargs: Any) -> S:
    crawler = get_crawler(cls)
    spider = crawler._create_spider(**kwargs)
    assert isinstance(spider, cls)
    return spider


def saved(url: str, body: bytes, cls: type[Response] = XmlResponse, **headers: str) -> Response:
    return cls(url=url, body=body, request=Request(url), headers=headers or None)


def page(name: str, url: str) -> HtmlResponse:
    return HtmlResponse(
        url=url,
        body=(PAGES / f"{name}.html").read_bytes(),
        request=Request(url),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )


def stat(spider: Spider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(key)


def requests_of(results: Iterator[Any]) -> list[Request]:
    out = list(results)
    assert all(isinstance(r, Request) for r in out)
    return out


# --- feed spider ------------------------------------------------------------------------------


def test_feed_spider_requests_carry_the_entry() -> None:
    spider = make(FeedSpider, url=WORLD, domains=DOMAINS)
    requests = requests_of(spider.parse_start(saved(WORLD, (FEEDS / "world.rss").read_bytes())))
    assert [r.url for r in requests] == [EURONEWS, FIGARO, ELPAIS, KOMMERSANT, BR]
    first = requests[0]
    assert first.callback == spider.parse_article
    assert first.errback == spider.request_failed
    listing = first.cb_kwargs["listing"]
    assert listing == Listing(
        source=WORLD,
        title="As Trump pitches Venezuelan oil dream, experts warn it won't be easy",
        published_raw="Tue, 06 Jan 2026 13:55:27 +0100",
        published="2026-01-06T12:55:27+00:00",
    )
    assert first.meta[ARTICLE] is True
    assert first.meta[LASTMOD] == "2026-01-06T12:55:27+00:00"
    assert stat(spider, "ingest/filtered/offsite") == 1  # football.ua
    assert stat(spider, "ingest/xml/entries") == 6


def test_feed_spider_since_and_limit_filter_before_fetching() -> None:
    body = (FEEDS / "world.rss").read_bytes()
    recent = make(FeedSpider, url=WORLD, domains=DOMAINS, since="2025-01-01")
    assert [r.url for r in recent.parse_start(saved(WORLD, body))] == [EURONEWS, KOMMERSANT, BR]
    assert stat(recent, "ingest/filtered/before_since") == 3
    capped = make(FeedSpider, url=WORLD, domains=DOMAINS, limit="2")
    assert len(list(capped.parse_start(saved(WORLD, body)))) == 2
    assert stat(capped, "ingest/filtered/over_limit") == 3
    # the same feed again: nothing is asked twice
    assert list(capped.parse_start(saved(WORLD, body))) == []


def test_feed_spider_reads_atom() -> None:
    spider = make(FeedSpider, url=EUROPE, domains=DOMAINS)
    requests = requests_of(spider.parse_start(saved(EUROPE, (FEEDS / "europe.atom").read_bytes())))
    assert [r.url for r in requests] == [RP, PRAVDA]
    assert requests[0].cb_kwargs["listing"].title.startswith("Iran zrezygnował")
    # the newest of published / updated tells the incremental check about a change
    assert requests[0].meta[LASTMOD] == "2026-04-19T17:50:00+00:00"


def test_feed_spider_counts_a_malformed_feed_and_goes_on() -> None:
    url = "https://news.example.org/feeds/broken.rss"
    spider = make(FeedSpider, url=url)
    requests = list(spider.parse_start(saved(url, (FEEDS / "malformed.rss").read_bytes())))
    assert len(requests) == 2
    assert stat(spider, "ingest/xml/malformed") == 1
    assert stat(spider, "ingest/xml/errors") >= 3


def test_feed_spider_counts_a_page_that_is_not_a_feed() -> None:
    url = "https://news.example.org/feeds/gone.rss"
    spider = make(FeedSpider, url=url)
    html = b"<html><body><h1>Page not found</h1></body></html>"
    assert list(spider.parse_start(saved(url, html, HtmlResponse))) == []
    assert stat(spider, "ingest/dropped/no_entries") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "feed needs -a url="),
        ({"url": "ftp://example.org/feed"}, "url must be http"),
        ({"url": WORLD, "since": "last week"}, "since must be a date"),
        ({"url": WORLD, "limit": "0"}, "limit must be at least 1"),
        ({"site": "no-such-site"}, "unknown site"),
    ],
)
def test_feed_spider_bad_arguments_are_clear_errors(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(FeedSpider, **kwargs)


def test_allowed_domains_come_from_the_urls_or_the_site() -> None:
    spider = make(FeedSpider, url="https://www.rbc.ua/static/rss/all.rus.rss.xml,https://x.org/f")
    assert spider.allowed_domains == ["rbc.ua", "x.org"]
    assert spider.start_urls == ["https://www.rbc.ua/static/rss/all.rus.rss.xml", "https://x.org/f"]
    declared = make(FeedSpider, site="rbc", url="https://www.rbc.ua/rss.xml")
    assert declared.allowed_domains == ["rbc.ua"]


# --- sitemap spider ---------------------------------------------------------------------------


def test_sitemap_index_is_followed_and_old_sitemaps_skipped() -> None:
    spider = make(SitemapSpider, url=INDEX, since="2025-01-01")
    requests = requests_of(spider.parse_start(saved(INDEX, (FEEDS / "index.xml").read_bytes())))
    assert [r.url for r in requests] == [
        "https://news.example.org/sitemaps/news.xml",
        "https://news.example.org/sitemaps/2026.xml.gz",
    ]
    assert all(r.callback == spider.parse_sitemap for r in requests)
    assert stat(spider, "ingest/filtered/before_since") == 1


def test_google_news_sitemap_entries_carry_title_date_language_alternates() -> None:
    url = "https://news.example.org/sitemaps/news.xml"
    spider = make(SitemapSpider, url=INDEX, domains=DOMAINS, since="2025-01-01")
    requests = requests_of(spider.parse_sitemap(saved(url, (FEEDS / "news.xml").read_bytes())))
    assert [r.url for r in requests] == [PRAVDA, EURONEWS]  # le Figaro's is from 2024
    listing = requests[0].cb_kwargs["listing"]
    assert listing.source == url
    assert listing.title.startswith("157 миллионов за бездействие")
    assert listing.published_raw == "2026-01-08T17:46:00+02:00"
    assert listing.published == "2026-01-08T15:46:00+00:00"
    assert listing.language == "ru"
    # codes normalised as the page's own hreflang are ("ru-UA" -> "ru"); x-default dropped
    assert listing.alternates == {
        "uk": "https://www.pravda.com.ua/articles/2026/01/08/8015225/",
        "ru": PRAVDA,
    }


def test_gzip_sitemap_without_content_encoding() -> None:
    url = "https://news.example.org/sitemaps/2026.xml.gz"
    body = gzip.compress((FEEDS / "2026.xml").read_bytes())
    spider = make(SitemapSpider, url=INDEX, domains=DOMAINS, since="2025-01-01")
    response = saved(url, body, Response, **{"Content-Type": "application/x-gzip"})
    requests = requests_of(spider.parse_sitemap(response))
    assert [r.url for r in requests] == [RP, BR]  # kommersant's lastmod is 2024
    assert requests[0].meta[LASTMOD] == "2026-04-19T17:50:00+00:00"


def test_sitemap_from_robots_txt() -> None:
    url = "https://news.example.org/robots.txt"
    robots = b"User-agent: *\nDisallow: /private/\nSitemap: https://news.example.org/sitemaps/index.xml\n"
    spider = make(SitemapSpider, url=url)
    requests = requests_of(
        spider.parse_start(saved(url, robots, HtmlResponse, **{"Content-Type": "text/plain"}))
    )
    assert [r.url for r in requests] == [INDEX]


# --- the article path -------------------------------------------------------------------------


def test_parse_article_keeps_the_listing_beside_the_page() -> None:
    listing = Listing(
        source="https://news.example.org/sitemaps/news.xml",
        title="A feed title",
        published_raw="2026-01-06T13:55:27+01:00",
        published="2026-01-06T12:55:27+00:00",
        language="en",
        alternates={"fr": "https://fr.euronews.com/x", "en": "https://elsewhere.example/y"},
    )
    spider = make(SitemapSpider, url=INDEX)
    (downloaded,) = spider.parse_article(
        page("en_euronews_2026-01-06_en", EURONEWS), listing=listing
    )
    item = extract_page(downloaded)  # what ExtractionPipeline does
    assert item.title == "As Trump pitches Venezuelan oil dream, experts warn it won't be easy"
    assert (item.feed_title, item.feed_published, item.feed_language) == (
        "A feed title",
        "2026-01-06T12:55:27+00:00",
        "en",
    )
    assert item.source == listing.source
    assert item.alternates["fr"] == "https://fr.euronews.com/x"
    assert item.alternates.get("en") != "https://elsewhere.example/y"  # the page's own wins


# --- validation cross-checks ------------------------------------------------------------------


def validated(**fields: Any) -> tuple[ValidationPipeline, ArticleItem]:
    crawler = get_crawler()
    assert crawler.stats is not None
    pipeline = ValidationPipeline(crawler.stats, 10, 300)
    item = ArticleItem(
        url=EURONEWS,
        fetched_url=EURONEWS,
        site="euronews",
        fetched_at="2026-01-07T00:00:00+00:00",
        title="As Trump pitches Venezuelan oil dream, experts warn it won't be easy",
        body="Some article text that is long enough.",
        published="2026-01-06T12:55:27+00:00",
    )
    for key, value in fields.items():
        setattr(item, key, value)
    assert pipeline.process_item(item) is item  # never a drop
    return pipeline, item


@pytest.mark.parametrize(
    ("feed_published", "feed_title", "expected"),
    [
        ("2026-01-06T20:00:00+00:00", "Trump pitches Venezuelan oil", []),
        ("2026-01-07T12:55:27+00:00", "TRUMP, oil!", []),  # exactly a day apart: tolerated
        ("2026-01-08T12:55:28+00:00", None, ["date_mismatch"]),
        (None, "Weather forecast for Tuesday", ["title_mismatch"]),
        ("2025-01-06T12:55:27+00:00", "Погода на вівторок", ["date_mismatch", "title_mismatch"]),
    ],
)
def test_validation_cross_checks_feed_and_page(
    feed_published: str | None, feed_title: str | None, expected: list[str]
) -> None:
    pipeline, item = validated(feed_published=feed_published, feed_title=feed_title)
    assert pipeline.crosscheck(item) == expected
    for name in ("date_mismatch", "title_mismatch"):
        assert pipeline.stats.get_value(f"ingest/crosscheck/{name}") == (
            2 if name in expected else None
        )


# --- WARC writer and replay -------------------------------------------------------------------


def write_warc(path: Path, responses: Sequence[Response]) -> dict[str, Any]:
    crawler = get_crawler(FeedSpider, {"INGEST_WARC_OUT": str(path)})
    writer = WarcWriterMiddleware.from_crawler(crawler)
    for response in responses:
        assert response.request is not None
        assert writer.process_response(response.request, response) is response
    writer.close(None, "finished")
    assert crawler.stats is not None
    return crawler.stats.get_stats()


def test_warc_writer_records_real_url_and_raw_body_and_replay_decodes_it(tmp_path: Path) -> None:
    html = (PAGES / "en_euronews_2026-01-06_en.html").read_bytes()
    compressed = HtmlResponse(
        url=EURONEWS,
        body=gzip.compress(html),
        request=Request(EURONEWS, headers={"Accept-Encoding": "gzip"}),
        headers={"Content-Type": "text/html; charset=UTF-8", "Content-Encoding": "gzip"},
    )
    missing = HtmlResponse(url=FIGARO, status=404, body=b"gone", request=Request(FIGARO))
    cached = HtmlResponse(url=ELPAIS, body=b"x", request=Request(ELPAIS), flags=["cached"])
    path = tmp_path / "crawl.warc.gz"
    stats = write_warc(path, [compressed, missing, cached])
    assert stats["ingest/warc/written"] == 2  # not the HTTP cache's response
    refs = list(iter_records(path))
    assert [(r.url, r.status, r.content_type) for r in refs] == [
        (EURONEWS, 200, "text/html"),
        (FIGARO, 404, ""),
    ]
    replayed = load_response(refs[0], Request(EURONEWS))
    assert isinstance(replayed, HtmlResponse)
    assert replayed.url == EURONEWS
    assert replayed.body == html  # decoded: the header that said gzip is gone
    assert b"Content-Encoding" not in replayed.headers
    assert "warc" in replayed.flags
    # a request record for each response, to the real host
    with gzip.open(path, "rb") as warc:
        raw = warc.read()
    assert raw.count(b"WARC-Type: request") == 2
    assert b"Host: www.euronews.com" in raw
    assert b"WARC-Type: warcinfo" in raw


def test_warc_spider_replays_html_responses_once_and_never_goes_online(tmp_path: Path) -> None:
    responses = [
        page("en_euronews_2026-01-06_en", EURONEWS),
        page("en_euronews_2026-01-06_en", EURONEWS),  # fetched twice in the crawl
        page("fr_lefigaro_2024-11-22_fr", FIGARO),
        XmlResponse(
            url=WORLD,
            body=(FEEDS / "world.rss").read_bytes(),
            request=Request(WORLD),
            headers={"Content-Type": "application/rss+xml"},
        ),
    ]
    path = tmp_path / "crawl.warc.gz"
    write_warc(path, responses)
    spider = make(WarcSpider, path=str(tmp_path / "*.warc.gz"))
    assert spider.paths == [str(path)]

    async def collect() -> list[Request]:
        return [r async for r in spider.start()]

    requests = asyncio.run(collect())
    assert [r.url for r in requests] == [EURONEWS, FIGARO]
    assert stat(spider, "ingest/filtered/warc_repeated") == 1
    assert stat(spider, "ingest/filtered/warc_not_html") == 1
    listing = requests[0].cb_kwargs["listing"]
    assert listing.source == str(path)
    assert listing.fetched_at is not None

    replay = WarcReplayMiddleware(spider.crawler)
    response = replay.process_request(requests[0])
    (downloaded,) = spider.parse_article(response, **requests[0].cb_kwargs)
    assert downloaded.fetched_at == listing.fetched_at  # when the WARC recorded it
    item = extract_page(downloaded)
    assert item.url == EURONEWS
    assert item.fetched_at == listing.fetched_at
    with pytest.raises(IgnoreRequest):
        replay.process_request(Request("https://www.euronews.com/not-in-the-archive"))
    assert stat(spider, "ingest/dropped/not_in_warc") == 1
    assert RECORD_META in requests[0].meta


def test_warc_spider_path_errors() -> None:
    with pytest.raises(ValueError, match="no WARC file matches"):
        make(WarcSpider, path="/nonexistent/*.warc.gz")
    with pytest.raises(ValueError, match="warc needs -a path="):
        make(WarcSpider)


# --- storage ----------------------------------------------------------------------------------


def test_migration_adds_the_feed_columns(tmp_path: Path) -> None:
    db = open_db(tmp_path / "news.db")
    columns = db.table("articles").columns_dict
    for name in ("source", "feed_title", "feed_published_raw", "feed_published", "feed_language"):
        assert columns[name] is str
    open_db(tmp_path / "news.db")  # applied once; a second open changes nothing


# --- end to end -------------------------------------------------------------------------------


def build_mirror(root: Path) -> None:
    """Real pages under their real URLs, hand-made feeds and sitemaps on news.example.org."""
    for name, url in SERVED.items():
        host, _, path = url.removeprefix("https://").partition("/")
        target = root / host / path
        if not target.suffix:
            target = target / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PAGES / f"{name}.html", target)
    site = root / "news.example.org"
    (site / "feeds").mkdir(parents=True)
    (site / "sitemaps").mkdir()
    shutil.copy(FEEDS / "world.rss", site / "feeds" / "world.rss")
    shutil.copy(FEEDS / "europe.atom", site / "feeds" / "europe.atom")
    shutil.copy(FEEDS / "index.xml", site / "sitemaps" / "index.xml")
    shutil.copy(FEEDS / "news.xml", site / "sitemaps" / "news.xml")
    for year in ("2026", "2024"):
        packed = gzip.compress((FEEDS / f"{year}.xml").read_bytes())
        (site / "sitemaps" / f"{year}.xml.gz").write_bytes(packed)


def crawl(db: Path, *args: str, mirror: str | None = None) -> dict[str, Any]:
    """``python -m ingest crawl ...`` in a subprocess; the run's stats from the database."""
    loopback = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
    if mirror:
        loopback += ["-s", f"INGEST_MIRROR={mirror}"]
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "crawl", *args, "--db", str(db), *loopback],
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(db) as conn:
        (stats,) = conn.execute("select stats from runs order by started_at desc").fetchone()
    return dict(json.loads(stats))


def rows(db: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {r["url"]: dict(r) for r in conn.execute("select * from articles")}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A feed crawl recording a WARC, its replay, and a sitemap crawl, against one mirror."""
    base = tmp_path_factory.mktemp("generic")
    build_mirror(base / "mirror")
    warc = base / "feed.warc.gz"
    with serve(base / "mirror") as server:
        feed_stats = crawl(
            base / "feed.db",
            "feed",
            "-a",
            f"url={WORLD},{EUROPE}",
            "-a",
            f"domains={DOMAINS}",
            "-s",
            f"INGEST_WARC_OUT={warc}",
            mirror=server.url,
        )
        before = len(getattr(server, "hits", []))
        sitemap_stats = crawl(
            base / "sitemap.db",
            "sitemap",
            "-a",
            f"url={INDEX}",
            "-a",
            "since=2025-01-01",
            "-a",
            f"domains={DOMAINS}",
            mirror=server.url,
        )
        # MirrorServer.hits (path, status) lists what the sitemap crawl asked the mirror for
        requested = [p for p, _ in server.hits[before:]] if hasattr(server, "hits") else None
    # The replay runs with the mirror gone: it cannot reach anything.
    warc_stats = crawl(base / "warc.db", "warc", "-a", f"path={warc}")
    return {
        "feed": rows(base / "feed.db"),
        "feed_stats": feed_stats,
        "sitemap": rows(base / "sitemap.db"),
        "sitemap_stats": sitemap_stats,
        "warc": rows(base / "warc.db"),
        "warc_stats": warc_stats,
        "warc_file": warc,
        "requested": requested,
    }


def test_a_spider_yields_an_article_item_and_no_html_is_stored(e2e: dict[str, Any]) -> None:
    """The feed spider's callback yields the article item itself, its page in ``html``;
    ExtractionPipeline parses it, and what the crawl stored of that page is the extracted
    fields, never the page."""
    response = page("en_euronews_2026-01-06_en", EURONEWS)
    listing = Listing(source=WORLD, title="A feed title", language="en")
    (item,) = make(FeedSpider, url=WORLD).parse_article(response, listing=listing)
    assert type(item) is ArticleItem
    assert item.html == response.text
    assert (item.url, item.fetched_url, item.site) == (EURONEWS, EURONEWS, "euronews")
    assert (item.source, item.feed_title, item.feed_language) == (WORLD, "A feed title", "en")
    assert item.title is None  # not parsed by the spider
    parsed = extract_page(item)
    assert parsed.html is None
    assert parsed.title
    assert (parsed.site, parsed.source, parsed.feed_title) == ("euronews", WORLD, "A feed title")

    row = e2e["feed"][EURONEWS]  # the same page, through the crawl's ITEM_PIPELINES
    assert row["title"] == parsed.title
    assert row["body"]
    assert "html" not in row
    assert not any(isinstance(v, str) and "<head" in v for v in row.values())


def test_feed_crawl_stores_the_listed_articles(e2e: dict[str, Any]) -> None:
    stored = e2e["feed"]
    assert set(stored) == {EURONEWS, FIGARO, ELPAIS, KOMMERSANT, BR, RP, PRAVDA}
    assert FOOTBALL not in stored  # offsite: never fetched
    euronews = stored[EURONEWS]
    assert euronews["source"] == WORLD
    assert euronews["feed_title"] == euronews["title"]
    assert euronews["feed_published"] == euronews["published"] == "2026-01-06T12:55:27+00:00"
    assert stored[RP]["source"] == EUROPE
    assert stored[RP]["lang"] == "pl"
    stats = e2e["feed_stats"]
    assert stats["finish_reason"] == "finished"
    assert stats["ingest/filtered/offsite"] == 1
    assert stats["ingest/xml/documents"] == 2


def test_feed_crawl_cross_checks_are_counted_not_dropped(e2e: dict[str, Any]) -> None:
    stats, stored = e2e["feed_stats"], e2e["feed"]
    assert stats["ingest/crosscheck/title_mismatch"] == 1
    assert stats["ingest/crosscheck/date_mismatch"] == 1
    assert stored[KOMMERSANT]["feed_title"] == "Weather forecast for Tuesday"
    assert stored[KOMMERSANT]["title"] == "Легкий троннинг"
    assert stored[BR]["feed_published"] == "2026-04-10T12:36:37+00:00"
    assert stored[BR]["published"] == "2026-04-15T12:36:37+00:00"


def test_sitemap_crawl_filters_by_date_before_fetching(e2e: dict[str, Any]) -> None:
    stored = e2e["sitemap"]
    assert set(stored) == {PRAVDA, EURONEWS, RP, BR}
    stats = e2e["sitemap_stats"]
    # the 2024 sitemap (by its lastmod in the index), le Figaro (news: date), kommersant (lastmod)
    assert stats["ingest/filtered/before_since"] == 3
    assert stats["ingest/xml/documents"] == 3  # index, news.xml, 2026.xml.gz: not 2024.xml.gz
    if e2e["requested"] is not None:  # the mirror lists what it served
        assert not any("2024.xml.gz" in p or "lefigaro" in p for p in e2e["requested"])


def test_sitemap_crawl_keeps_news_fields_and_alternates(e2e: dict[str, Any]) -> None:
    pravda = e2e["sitemap"][PRAVDA]
    assert pravda["source"] == "https://news.example.org/sitemaps/news.xml"
    assert pravda["feed_title"] == pravda["title"]
    assert pravda["feed_published"] == "2026-01-08T15:46:00+00:00"
    assert pravda["feed_language"] == "ru" == pravda["lang"]
    euronews = json.loads(e2e["sitemap"][EURONEWS]["alternates"])
    assert euronews["fr"] == "https://fr.euronews.com/2026/01/06/trump-petrole-venezuelien"
    assert e2e["sitemap"][RP]["source"] == "https://news.example.org/sitemaps/2026.xml.gz"


def test_warc_replay_stores_the_same_articles(e2e: dict[str, Any]) -> None:
    live, replayed = e2e["feed"], e2e["warc"]
    assert set(replayed) == set(live)
    for url, row in live.items():
        again = replayed[url]
        for key in ("title", "body", "lang", "published", "authors"):
            assert again[key] == row[key], (url, key)
        assert again["source"] == str(e2e["warc_file"])
        # the WARC-Date of the live download, not the replay's clock (the live item is dated
        # when parsed, a moment after its download)
        downloaded, parsed = parse_iso(again["fetched_at"]), parse_iso(row["fetched_at"])
        assert downloaded is not None
        assert parsed is not None
        assert timedelta(0) <= parsed - downloaded < timedelta(seconds=30)
    stats = e2e["warc_stats"]
    assert stats["ingest/stored"] == len(live)
    assert "downloader/exception_count" not in stats  # nothing tried the network
    # robots.txt 404s and the two feeds were recorded too, and skipped in the replay
    assert stats["ingest/filtered/warc_not_html"] == 2
    assert stats["ingest/filtered/warc_status"] >= 1
