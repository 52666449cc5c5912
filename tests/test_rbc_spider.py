"""The rbc spider on saved responses (tests/fixtures/rbc, see source.json): one fixture and one
expected JSON per page kind, callbacks called directly; and one crawl of the mirror, whose rows
carry what the feed or listing page said of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, XmlResponse
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from ingest.demo import mirror_root, serve
from ingest.extract import extract_page
from ingest.extract.clean import clean_item
from ingest.items import Listing
from ingest.sites import registry
from ingest.store.db import open_db
from spiders.rbc import SITE, RbcSpider, feed_language

from .conftest import FIXTURES
from .crawl_helpers import crawl

RBC = FIXTURES / "rbc"
SOURCES: dict[str, str] = {
    name: entry["url"]
    for name, entry in json.loads((RBC / "source.json").read_text("utf-8"))["files"].items()
}


def spider(**kwargs: Any) -> RbcSpider:
    crawler = get_crawler(RbcSpider)
    made = crawler._create_spider(**kwargs)
    assert isinstance(made, RbcSpider)
    return made


def saved(name: str, cls: type[Response] = HtmlResponse, **headers: str) -> Response:
    url = SOURCES[name]
    return cls(
        url=url,
        body=(RBC / name).read_bytes(),
        request=Request(url),
        headers=headers or {"Content-Type": "text/html; charset=utf-8"},
    )


@pytest.mark.parametrize("name", ["article", "article_uk"])
def test_article_page(name: str) -> None:
    expected = json.loads((RBC / f"{name}.json").read_text("utf-8"))
    (page,) = spider().parse_article(saved(f"{name}.html"))
    assert page.site == "rbc"  # what the spider knows; ExtractionPipeline parses the rest
    assert page.html
    item = extract_page(page)
    clean_item(item)  # what the boilerplate pipeline does next
    got = asdict(item)
    got["body"] = (item.body or "").split("\n\n")
    for key, value in expected.items():
        assert got[key] == value, key


def test_the_items_site_name_brings_back_its_declared_site() -> None:
    """Extraction finds the Site by the name the spider gave (a Site does not travel with the
    item): rbc's selectors parse an rbc page even under another host, as when a spider declares
    its site; under a host name the URL decides, and no site owns this one."""
    page = next(spider().parse_article(saved("article.html")))
    elsewhere = "https://mirror.example.net/rus/news/x.html"
    page.fetched_url = page.url = elsewhere
    assert extract_page(page).site == "rbc"
    assert extract_page(page).body_source == "site"
    page.site = "mirror.example.net"
    assert extract_page(page).site == "mirror.example.net"
    assert extract_page(page).body_source != "site"


def test_listing_page_yields_article_requests_in_page_order() -> None:
    expected = json.loads((RBC / "archive.json").read_text("utf-8"))
    s = spider()
    requests = list(s.parse_listing(saved("archive.html")))
    assert [r.url for r in requests] == expected["requests"]
    assert all(r.callback == s.parse_article for r in requests)
    # The archive page is what listed them: their rows' ``source``.
    listing = Listing(source="https://www.rbc.ua/rus/archive/2025/07/03")
    assert all(r.cb_kwargs == {"listing": listing} for r in requests)


def test_feed_entries_carry_what_the_feed_said() -> None:
    """The shared feed path: source, title and date of the entry travel with the request."""
    feed = saved("feed.xml", XmlResponse, **{"Content-Type": "application/rss+xml"})
    first = next(iter(spider().parse_feed(feed)))
    listing = first.cb_kwargs["listing"]
    assert listing.source == "https://www.rbc.ua/static/rss/all.ukr.rss.xml"
    assert listing.title
    assert listing.published == first.meta["lastmod"] == "2025-07-04T14:56:00+00:00"


def start_requests(s: RbcSpider) -> list[Request]:
    async def collect() -> list[Request]:
        return [r async for r in s.start()]

    return asyncio.run(collect())


def discovery(requests: Iterator[Request]) -> list[str]:
    return [r.url for r in requests if not r.meta.get("article")]


def test_discovery_goes_in_stages_feed_archive_all_news() -> None:
    """Per language, each stage once the one before is read: an article several list reaches
    the article path with what the first said of it (the feed's title), on every crawl."""
    s = spider(lang="uk,ru", since="2025-07-03", until="2025-07-04")
    assert discovery(iter(start_requests(s))) == [
        "https://www.rbc.ua/static/rss/all.rus.rss.xml",
        "https://www.rbc.ua/static/rss/all.ukr.rss.xml",
    ]
    feed = saved("feed.xml", XmlResponse)  # the Russian feed (all.ukr)
    assert discovery(s.parse_feed(feed, lang="ru")) == [
        "https://www.rbc.ua/ukr/archive/2025/07/04",
        "https://www.rbc.ua/ukr/archive/2025/07/03",
    ]
    day = saved("archive.html")
    assert discovery(s.parse_listing(day, lang="ru")) == []  # one archive day still unread
    assert discovery(s.parse_listing(day, lang="ru")) == ["https://www.rbc.ua/ukr/allnews/1"]
    # A feed that fails still lets its language's listing pages come.
    failure = Failure(ConnectionRefusedError())  # type: ignore[no-untyped-call]
    failure.request = Request(  # type: ignore[attr-defined]
        "https://www.rbc.ua/static/rss/all.rus.rss.xml", cb_kwargs={"lang": "uk"}
    )
    assert discovery(s.discovery_failed(failure)) == [
        "https://www.rbc.ua/rus/archive/2025/07/04",
        "https://www.rbc.ua/rus/archive/2025/07/03",
    ]


def test_the_feeds_are_the_entrys_and_each_has_a_language() -> None:
    assert registry()["rbc"] is SITE
    assert [feed_language(url) for url in SITE.feeds] == ["uk", "ru", "en"]


def test_all_news_page_follows_next_until_the_page_budget() -> None:
    requests = list(spider(pages=2).parse_listing(saved("allnews.html"), page=1))
    articles = [r for r in requests if r.url.endswith(".html")]
    assert len(articles) == 10
    assert all("/ukr/" in r.url for r in articles)
    assert requests[-1].url == "https://www.rbc.ua/ukr/allnews/2"
    assert requests[-1].cb_kwargs == {"page": 2}
    last_page = list(spider(pages=2).parse_listing(saved("allnews.html"), page=2))
    assert not any("allnews" in r.url for r in last_page)


def test_feed_links_and_since_filter() -> None:
    feed = saved("feed.xml", XmlResponse, **{"Content-Type": "application/rss+xml"})
    everything = list(spider().parse_feed(feed))
    assert len(everything) == 8
    assert (
        everything[0].url
        == "https://www.rbc.ua/ukr/news/zelenskyy-trump-air-defense-1751640540.html"
    )
    recent = list(spider(since="2025-07-04", until="2025-07-04").parse_feed(feed))
    assert 0 < len(recent) < 8
    assert all(int(r.url[-15:-5]) >= 1751576400 - 16 * 60 for r in recent)  # 2025-07-04 00:00 Kyiv


def test_limit_caps_article_requests_across_pages() -> None:
    s = spider(limit="3")
    first = list(s.parse_listing(saved("archive.html")))
    second = list(s.parse_feed(saved("feed.xml", XmlResponse)))
    assert len(first) == 3
    assert second == []
    assert s.crawler.stats is not None
    assert s.crawler.stats.get_value("ingest/filtered/over_limit") == 6 + 8  # counted, not lost


def test_an_article_is_requested_once() -> None:
    s = spider()
    assert len(list(s.parse_listing(saved("archive.html")))) == 9
    assert list(s.parse_listing(saved("archive.html"))) == []


def test_discovery_follows_the_swapped_paths() -> None:
    s = spider(lang="uk", since="2025-07-03", until="2025-07-04")
    assert list(s.discovery_urls()) == [
        ("https://www.rbc.ua/static/rss/all.rus.rss.xml", "feed"),
        ("https://www.rbc.ua/rus/archive/2025/07/04", "listing"),
        ("https://www.rbc.ua/rus/archive/2025/07/03", "listing"),
        ("https://www.rbc.ua/rus/allnews/1", "listing"),
    ]
    english = [url for url, _ in spider(lang="en").discovery_urls()]
    assert english == ["https://newsukraine.rbc.ua/rss.xml", "https://newsukraine.rbc.ua/allnews/1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lang": "de"}, "lang must be among uk,ru,en"),
        ({"since": "yesterday"}, "since must be a date"),
        ({"since": "2025-07-05", "until": "2025-07-01"}, "is after until"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spider(**kwargs)


def test_default_until_is_today() -> None:
    assert spider().until == date.today()


def test_a_crawl_stores_where_each_article_was_listed(tmp_path: Path) -> None:
    """Every rbc row says which feed or listing page led to it (``source``), and the feed's
    title when a feed did: the input of validation's feed cross-checks."""
    db_path = tmp_path / "news.db"
    with serve(mirror_root("rbc")) as server:
        stats = crawl(db_path, server.url)
    db = open_db(db_path, read_only=True)
    rows = list(db.query("select url, lang, source, feed_title, feed_published from articles"))
    per_lang = {lang: sum(r["lang"] == lang for r in rows) for lang in ("uk", "ru", "en")}
    assert per_lang == {"uk": 15, "ru": 14, "en": 10}
    assert all(r["source"] for r in rows)
    from_feeds = [r for r in rows if r["source"] in SITE.feeds]
    assert len(from_feeds) == 24  # 8 entries in each of the three feeds
    assert all(r["feed_title"] and r["feed_published"] for r in from_feeds)
    listed = [r for r in rows if r["source"] not in SITE.feeds]
    assert all("/archive/" in r["source"] or "/allnews/" in r["source"] for r in listed)
    assert stats.get("ingest/crosscheck/title_mismatch", 0) == 0


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"", {"Content-Type": "text/html"}, "empty_page"),
        (b"   \n ", {"Content-Type": "text/html"}, "empty_page"),
        (b"%PDF-1.4 binary", {"Content-Type": "application/pdf"}, "non_html"),
        (b"\x89PNG\r\n", {"Content-Type": "image/png"}, "non_html"),
    ],
)
def test_pages_that_cannot_be_articles_are_counted_drops(
    body: bytes, headers: dict[str, str], reason: str
) -> None:
    s = spider()
    url = "https://www.rbc.ua/rus/news/x-1751526480.html"
    response = HtmlResponse(url=url, body=body, headers=headers, request=Request(url))
    assert list(s.parse_article(response)) == []
    assert s.crawler.stats is not None
    assert s.crawler.stats.get_value(f"ingest/dropped/{reason}") == 1


def test_broken_html_still_parses_into_an_item() -> None:
    """A page cut mid-tag is parsed; validation (too short) decides about it later."""
    url = "https://www.rbc.ua/rus/news/cut-1751546160.html"
    body = b"<html><body><article><h1>Title</h1><div class='txt'><p>Short text.</p><div class='x"
    (page,) = spider().parse_article(HtmlResponse(url=url, body=body, request=Request(url)))
    item = extract_page(page)
    assert item.title == "Title"
    clean_item(item)
    assert item.body == "Short text."
