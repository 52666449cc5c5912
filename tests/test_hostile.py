"""Issue 10, as a hostile site plays it: feeds, sitemaps and pages made by hand to read local
files, end a document with one date, lose pages without a reason, never end, or cost without
bound. Served by a loopback server this module starts and crawled by the real ``feed`` and
``sitemap`` spiders (``python -m ingest crawl``); unit tests where no server is needed, and
hypothesis properties over dates and JSON-LD shapes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import XmlResponse
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from ingest.crawl.feeds import XmlReport, iter_feed, iter_sitemap
from ingest.crawl.middlewares import url_refusal
from ingest.crawl.workers import CpuPool
from ingest.dates import (
    EARLIEST,
    LATEST,
    parse_any,
    parse_iso,
    parse_local,
    parse_rfc822,
    to_utc_iso,
)
from ingest.extract import Limits, html_selector, json_ld_article, ld_types, parse_page
from ingest.items import ArticleItem
from pipelines.storage import SQLitePipeline
from spiders.feed import FeedSpider
from spiders.sitemap import SitemapSpider
from tests.crawl_helpers import CRAWL_TIMEOUT, clean_env

REPO = Path(__file__).resolve().parents[1]
SECRET = "TOP-SECRET-LOCAL-FILE-7f3a"  # noqa: S105  (a marker, not a password)
TEXT = " ".join(
    f"Sentence {i} of a long story tells the reader what the council decided today."
    for i in range(12)
)


def article(
    title: str, *, head: str = "", body: str = "", ld: str | None = None, h1: str | None = None
) -> bytes:
    """A small valid article page; ``ld`` is the text of a JSON-LD script."""
    script = f'<script type="application/ld+json">{ld}</script>' if ld is not None else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:type" content="article">{head}{script}</head><body><article>'
        f"<h1>{h1 or title}</h1><p>{title[:40]}: {TEXT}</p><p>{TEXT.upper()}</p>{body}"
        "</article></body></html>"
    ).encode()


def ld(**fields: Any) -> str:
    return json.dumps({"@context": "https://schema.org", **fields})


# path -> page. Each page is one hostile case, listed by the feed.
PAGES: dict[str, bytes] = {
    "/good.html": article("A good story"),
    "/after-bad-date.html": article("The story after the bad date"),
    "/ld-deep.html": article("Deep JSON-LD", ld="[" * 10_000 + "]" * 10_000),
    "/ld-type-object.html": article(
        "Type as an object", ld=ld(**{"@type": {"@id": "x"}, "headline": "h"})
    ),
    "/ld-date-number.html": article(
        "Date as a number", ld=ld(**{"@type": "NewsArticle", "datePublished": 1751623200})
    ),
    "/ld-date-list.html": article(
        "Date as a list", ld=ld(**{"@type": "NewsArticle", "datePublished": ["2025-07-04"]})
    ),
    "/date-9999.html": article(
        "Date at the end of time",
        ld=ld(**{"@type": "NewsArticle", "datePublished": "9999-12-31T23:00-05:00"}),
    ),
    "/date-0001.html": article(
        "Date at the start of time",
        head='<meta property="article:published_time" content="0001-01-01T00:00+05:00">',
    ),
    # Bounds, at their default settings.
    "/paragraphs.html": article("Paragraphs", body="<p>word</p>" * 12_000),
    "/title.html": article(
        "Title", head=f'<meta property="og:title" content="{"T" * 1_000_000}">', h1="Short title"
    ),
    "/images.html": article(
        "Images",
        body="".join(
            f'<figure><img src="/i/{n}.jpg"><figcaption>Photo {n}</figcaption></figure>'
            for n in range(10_000)
        ),
    ),
    "/ld-body.html": article(
        "Big JSON-LD body",
        ld=ld(**{"@type": "NewsArticle", "articleBody": (TEXT + "\n") * 2_000}),
    ),
}


def rss(items: list[tuple[str, str]]) -> bytes:
    """RSS with (link, pubDate) items."""
    body = "".join(
        f"<item><title>t{i}</title><link>{link}</link><pubDate>{date}</pubDate></item>"
        for i, (link, date) in enumerate(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>{body}</channel></rss>'
    ).encode()


GOOD_DATE = "Fri, 04 Jul 2025 10:00:00 +0300"


def feed(base: str, port: int, secret: Path) -> bytes:
    return rss(
        [
            (f"{base}/good.html", GOOD_DATE),
            # One date that overflowed once its offset was applied ended the feed.
            (f"{base}/ld-deep.html", "Fri, 31 Dec 9999 23:00:00 -0500"),
            (f"{base}/after-bad-date.html", "0001-01-01T00:00+05:00"),
            # Local files, through the feed's own host and through a redirect.
            (f"file://127.0.0.1{secret}", GOOD_DATE),
            (f"file://{secret}", GOOD_DATE),
            (f"{base}/to-file.html", GOOD_DATE),
            (f"{base}/refresh-to-file.html", GOOD_DATE),
            # Userinfo, another port, an address that is not a URL.
            (f"http://user@127.0.0.1:{port}/good.html?u", GOOD_DATE),
            (f"http://127.0.0.1:{port}@evil.example/x.html", GOOD_DATE),
            ("http://127.0.0.1:1/good.html", GOOD_DATE),
            ("http://[::1/x.html", GOOD_DATE),
            *((f"{base}{path}", GOOD_DATE) for path in PAGES if path != "/good.html"),
        ]
    )


def urlset(locs: list[tuple[str, str]]) -> bytes:
    body = "".join(f"<url><loc>{loc}</loc><lastmod>{d}</lastmod></url>" for loc, d in locs)
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{body}</urlset>"
    ).encode()


def index(locs: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{body}</sitemapindex>"
    ).encode()


class Hostile(BaseHTTPRequestHandler):
    """The hostile site: PAGES, a feed, redirects to files, an endless sitemap index."""

    protocol_version = "HTTP/1.1"
    secret: Path
    hits: list[str]

    def do_GET(self) -> None:
        port = int(self.server.server_address[1])  # type: ignore[index]
        base = f"http://127.0.0.1:{port}"
        path = self.path.split("?")[0]
        self.hits.append(path)
        status, headers, body = 200, {"Content-Type": "text/html; charset=utf-8"}, b""
        if path == "/feed.xml":
            headers["Content-Type"] = "application/rss+xml"
            body = feed(base, port, self.secret)
        elif path == "/sitemap.xml":  # an index: a urlset, a file, and an endless chain
            headers["Content-Type"] = "application/xml"
            body = index([f"{base}/urls.xml", f"file://{self.secret}", f"{base}/sm/1.xml"])
        elif path == "/urls.xml":
            headers["Content-Type"] = "application/xml"
            body = urlset(
                [
                    (f"{base}/good.html", "2025-07-04"),
                    (f"{base}/date-9999.html", "9999-12-31T23:00-05:00"),
                    (f"{base}/after-bad-date.html", "2025-07-04"),
                ]
            )
        elif path.startswith("/sm/"):  # each index links a fresh one, forever
            n = int(path.removeprefix("/sm/").removesuffix(".xml"))
            headers["Content-Type"] = "application/xml"
            body = index([f"{base}/sm/{n + 1}.xml"])
        elif path == "/to-file.html":
            status, headers = 302, {"Location": f"file://{self.secret}"}
        elif path == "/refresh-to-file.html":
            body = article(
                "Refresh", head=f'<meta http-equiv="refresh" content="0; url=file://{self.secret}">'
            )
        elif path in PAGES:
            body = PAGES[path]
        else:
            status = 404
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``hits``."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str], Path]]:
    tmp = tmp_path_factory.mktemp("hostile")
    secret = tmp / "secret.html"
    secret.write_bytes(article(SECRET))
    hits: list[str] = []
    handler = type("Handler", (Hostile,), {"secret": secret, "hits": hits})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", hits, tmp
    finally:
        httpd.shutdown()
        httpd.server_close()


def crawl(spider: str, url: str, db: Path) -> dict[str, Any]:
    """``ingest crawl SPIDER -a url=URL`` into ``db``: exit status, stats, rows, seen, log."""
    command = [sys.executable, "-m", "ingest", "crawl", spider, "--db", str(db), "-a", f"url={url}"]
    loopback = {
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "INGEST_WORKERS": "0",
        "CLOSESPIDER_TIMEOUT": "90",
    }
    for name, value in loopback.items():
        command += ["-s", f"{name}={value}"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
        env=clean_env(),
        cwd=REPO,
    )
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        (stats,) = conn.execute("select stats from runs order by rowid desc").fetchone()
        articles = {row["url"]: dict(row) for row in conn.execute("select * from articles")}
        images = dict(conn.execute("select article_url, count(*) from images group by 1"))
        seen = [url for (url,) in conn.execute("select url from seen")]
    finally:
        conn.close()
    return {
        "returncode": result.returncode,
        "stats": json.loads(stats),
        "articles": articles,
        "images": images,
        "seen": seen,
        "log": result.stderr,
    }


@pytest.fixture(scope="module")
def fed(server: tuple[str, list[str], Path]) -> dict[str, Any]:
    base, _, tmp = server
    return crawl("feed", f"{base}/feed.xml", tmp / "feed.db")


@pytest.fixture(scope="module")
def mapped(server: tuple[str, list[str], Path]) -> dict[str, Any]:
    base, _, tmp = server
    return crawl("sitemap", f"{base}/sitemap.xml", tmp / "sitemap.db")


def by_path(result: dict[str, Any], path: str) -> dict[str, Any] | None:
    return next((row for url, row in result["articles"].items() if url.endswith(path)), None)


# --- 1: local files ---------------------------------------------------------------------------


def test_no_local_file_is_read_from_a_feed_or_a_redirect(fed: dict[str, Any]) -> None:
    assert fed["returncode"] == 0, fed["log"][-3000:]
    assert not any(SECRET in (row["title"] or "") for row in fed["articles"].values())
    assert not any(url.startswith("file:") for url in fed["seen"])
    # two file:// entries skipped before any request, one redirect refused
    assert fed["stats"]["ingest/filtered/scheme"] == 3
    assert "ingest/dropped/http_302" not in fed["stats"]


def test_no_local_file_is_read_from_a_sitemap(mapped: dict[str, Any]) -> None:
    assert mapped["returncode"] == 0, mapped["log"][-3000:]
    assert mapped["stats"]["ingest/filtered/scheme"] == 1
    assert not any(SECRET in (row["title"] or "") for row in mapped["articles"].values())


def test_userinfo_other_ports_and_bad_urls_are_counted_skips(fed: dict[str, Any]) -> None:
    stats = fed["stats"]
    assert stats["ingest/filtered/userinfo"] == 2
    assert stats["ingest/filtered/port"] == 1
    assert stats["ingest/filtered/bad_url"] == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://news.example.org/a.html", None),
        ("https://www.news.example.org/a.html", None),
        ("https://news.example.org:443/a.html", None),
        ("file://news.example.org/etc/passwd", "scheme"),
        ("ftp://news.example.org/a", "scheme"),
        ("data:text/html,<p>x</p>", "scheme"),
        ("s3://bucket/key", "scheme"),
        ("https://user:pw@news.example.org/a.html", "userinfo"),
        ("https://news.example.org@evil.example/a.html", "userinfo"),
        ("https://evil.example\\@news.example.org/a.html", "userinfo"),
        ("https://news.example.org:22/a.html", "port"),
        ("https://[::1]/a.html", "offsite"),
        ("http://127.0.0.1/a.html", "offsite"),
        ("http://2130706433/a.html", "offsite"),
        ("https://news.example.org.evil.example/a.html", "offsite"),
        ("https://[::1/a.html", "bad_url"),
        ("https://news.example.org:99999/a.html", "bad_url"),
        ("https:///a.html", "bad_url"),
    ],
)
def test_the_one_url_check(url: str, reason: str | None) -> None:
    assert url_refusal(url, ["news.example.org"], {80, 443}) == reason


def test_ip_literal_domains_match_only_themselves() -> None:
    assert url_refusal("http://127.0.0.1:8080/a", ["127.0.0.1"], {8080}) is None
    assert url_refusal("http://1.127.0.0.1:8080/a", ["127.0.0.1"], {8080}) == "offsite"
    assert url_refusal("http://[::1]:8080/a", ["::1"], {8080}) is None


def test_download_handlers_for_other_schemes_are_off() -> None:
    from scrapy.utils.project import get_project_settings

    handlers = get_project_settings().getdict("DOWNLOAD_HANDLERS")
    assert {k for k, v in handlers.items() if v is None} >= {"file", "data", "s3", "ftp"}


# --- 3: one date ends a document --------------------------------------------------------------


def test_a_bad_date_in_a_feed_ends_nothing(fed: dict[str, Any]) -> None:
    assert by_path(fed, "/good.html") is not None
    assert by_path(fed, "/after-bad-date.html") is not None
    assert fed["stats"]["ingest/fields/bad_date"] >= 2
    assert "OverflowError" not in fed["log"]


def test_a_bad_date_in_a_sitemap_ends_nothing(mapped: dict[str, Any]) -> None:
    for path in ("/good.html", "/date-9999.html", "/after-bad-date.html"):
        assert by_path(mapped, path) is not None, path
    assert mapped["stats"]["ingest/fields/bad_date"] >= 2  # the lastmod and the page's own


def test_a_bad_date_on_a_page_loses_the_date_not_the_page(fed: dict[str, Any]) -> None:
    for path in ("/date-9999.html", "/date-0001.html"):
        row = by_path(fed, path)
        assert row is not None, path
        assert row["published"] is None
        assert "bad_date" in json.loads(row["flags"])


# --- 4: JSON-LD shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "flag"),
    [
        ("/ld-deep.html", "bad_json_ld"),
        ("/ld-type-object.html", None),
        ("/ld-date-number.html", "bad_date"),
        ("/ld-date-list.html", "bad_date"),
    ],
)
def test_odd_json_ld_is_stored_and_counted(
    fed: dict[str, Any], path: str, flag: str | None
) -> None:
    row = by_path(fed, path)
    assert row is not None, path
    if flag:
        assert flag in json.loads(row["flags"])
        assert fed["stats"][f"ingest/fields/{flag}"] >= 1


def test_no_page_is_lost_without_a_reason(fed: dict[str, Any]) -> None:
    stats = fed["stats"]
    assert "Error processing" not in fed["log"]
    assert not any(k.startswith("spider_exceptions") for k in stats)
    drops = {k: v for k, v in stats.items() if k.startswith("ingest/dropped/")}
    assert drops == {"ingest/dropped/too_many_paragraphs": 1}
    listed = len(PAGES) + 2  # + the redirect to a file, the page refreshing to one
    assert len(fed["articles"]) + sum(drops.values()) + 1 == listed  # refused redirect


# --- 5: endless sitemap indexes ---------------------------------------------------------------


def test_an_endless_sitemap_index_ends(
    mapped: dict[str, Any], server: tuple[str, list[str], Path]
) -> None:
    stats = mapped["stats"]
    assert stats["ingest/filtered/sitemap_too_deep"] == 1
    assert stats["finish_reason"] == "finished"
    chain = [h for h in server[1] if h.startswith("/sm/")]
    assert len(set(chain)) == 5  # depth 1..5 below the start URL


def test_child_sitemaps_per_crawl_are_bounded() -> None:
    base = "https://news.example.org"
    crawler = get_crawler(SitemapSpider, {"INGEST_SITEMAP_MAX_CHILDREN": 3})
    spider = crawler._create_spider(url=f"{base}/sitemap.xml")
    assert isinstance(spider, SitemapSpider)
    body = index([f"{base}/s{n}.xml" for n in range(10)])
    url = f"{base}/sitemap.xml"
    response = XmlResponse(url=url, body=body, request=Request(url))
    requests = list(spider.parse_sitemap(response))
    assert len(requests) == 3
    assert crawler.stats is not None
    assert crawler.stats.get_value("ingest/filtered/too_many_sitemaps") == 7


# --- 10: bounds -------------------------------------------------------------------------------


def test_a_page_of_too_many_paragraphs_is_a_counted_drop(fed: dict[str, Any]) -> None:
    assert by_path(fed, "/paragraphs.html") is None
    assert fed["stats"]["ingest/dropped/too_many_paragraphs"] == 1


def test_an_overlong_title_is_not_the_title(fed: dict[str, Any]) -> None:
    row = by_path(fed, "/title.html")
    assert row is not None
    assert row["title"] == "Short title"
    assert fed["stats"]["ingest/fields/title_too_long"] == 1


def test_images_per_article_are_bounded(fed: dict[str, Any]) -> None:
    row = by_path(fed, "/images.html")
    assert row is not None
    assert fed["images"][row["url"]] == 500
    assert "images_cut" in json.loads(row["flags"])
    assert fed["stats"]["ingest/fields/images_cut"] == 1


def test_a_huge_json_ld_body_is_not_used(fed: dict[str, Any]) -> None:
    row = by_path(fed, "/ld-body.html")
    assert row is not None
    assert row["body_source"] != "json-ld"
    assert len(row["body"]) < 10 * len(TEXT)
    assert fed["stats"]["ingest/fields/json_ld_too_large"] == 1


def test_each_bound_is_a_setting() -> None:
    from scrapy.utils.project import get_project_settings

    project = get_project_settings()
    for name in (
        "INGEST_SITEMAP_MAX_DEPTH",
        "INGEST_SITEMAP_MAX_CHILDREN",
        "INGEST_MAX_PARAGRAPHS",
        "INGEST_MAX_TITLE_CHARS",
        "INGEST_MAX_IMAGES",
        "INGEST_MAX_JSON_LD_CHARS",
        "INGEST_MAX_REVISIONS",
        "INGEST_MAX_PAGE_CPU",
    ):
        assert project.get(name), name
    limits = Limits.from_settings({"INGEST_MAX_IMAGES": 7, "INGEST_MAX_TITLE_CHARS": "9"})
    assert (limits.images, limits.title_chars, limits.paragraphs) == (7, 9, Limits().paragraphs)


def item(body: str) -> ArticleItem:
    return ArticleItem(
        url="https://news.example.org/clock.html",
        fetched_url="https://news.example.org/clock.html",
        site="news.example.org",
        fetched_at="2025-07-04T10:00:00+00:00",
        title="A clock",
        body=body,
        body_hash=body,
    )


def test_revisions_per_article_are_bounded(tmp_path: Path) -> None:
    """A body that changes on every fetch: one revision per crawl, the oldest pruned."""
    db = tmp_path / "news.db"
    crawler = get_crawler(FeedSpider, {"INGEST_DB": str(db), "INGEST_MAX_REVISIONS": 3})
    crawler.spider = crawler._create_spider(url="https://news.example.org/feed.xml")
    for n in range(6):  # six crawls, the batch written once each
        pipeline = SQLitePipeline.from_crawler(crawler)
        pipeline.open_spider()
        pipeline.process_item(item(f"It is {n} o'clock."))
        pipeline.close_spider()
    conn = sqlite3.connect(db)
    bodies = [b for (b,) in conn.execute("select body from revisions order by id")]
    conn.close()
    assert bodies == ["It is 2 o'clock.", "It is 3 o'clock.", "It is 4 o'clock."]
    assert crawler.stats is not None
    assert crawler.stats.get_value("ingest/revisions/pruned") == 2


# --- CPU per page, on the crawl thread and in workers -----------------------------------------


def burn(title: str, seconds: float) -> str:
    """A pipeline's pool function that spins on the CPU for ``seconds`` on a page titled
    "spin", as a pathological page does in an extractor."""
    end = time.thread_time() + (seconds if "spin" in title else 0.0)
    while time.thread_time() < end:
        pass
    return title


CPU = 0.3  # INGEST_MAX_PAGE_CPU of these tests
SPIN = 6.0


def cpu_pool(workers: int = 0) -> tuple[CpuPool, MemoryStatsCollector]:
    stats = MemoryStatsCollector(get_crawler())
    return CpuPool(workers, page_cpu=CPU, stats=stats), stats


def test_a_page_over_the_cpu_limit_is_stopped_on_the_crawl_thread() -> None:
    pool, stats = cpu_pool()
    started = time.monotonic()
    with pytest.raises(DropItem, match="cpu_limit"):
        asyncio.run(pool.run("https://news.example.org/spin.html", burn, "spin", SPIN))
    assert time.monotonic() - started < 3  # stopped, not left to spin its 6 s
    assert pool.local is not None
    assert pool.local.preemptive  # pytest runs tests on the main thread
    assert stats.get_value("ingest/dropped/cpu_limit") == 1
    calm = asyncio.run(pool.run("https://news.example.org/calm.html", burn, "calm", SPIN))
    assert calm[0] == "calm"  # the crawl goes on


def test_a_page_over_the_cpu_limit_is_dropped_off_the_main_thread() -> None:
    pool, stats = cpu_pool()
    errors: list[BaseException] = []

    def crawl() -> None:  # without a timer the page runs to its end, then is judged
        try:
            asyncio.run(pool.run("https://news.example.org/spin.html", burn, "spin", 0.6))
        except DropItem as exc:
            errors.append(exc)

    worker = threading.Thread(target=crawl)
    worker.start()
    worker.join()
    assert pool.local is not None
    assert not pool.local.preemptive
    assert len(errors) == 1
    assert str(errors[0]).startswith("cpu_limit")
    assert stats.get_value("ingest/dropped/cpu_limit") == 1


def test_a_page_over_the_cpu_limit_is_stopped_in_a_worker() -> None:
    pool, stats = cpu_pool(workers=1)
    try:
        started = time.monotonic()
        with pytest.raises(DropItem, match="cpu_limit"):
            asyncio.run(pool.run("https://news.example.org/spin.html", burn, "spin", SPIN))
        assert time.monotonic() - started < 5.5
        calm = asyncio.run(pool.run("https://news.example.org/calm.html", burn, "calm", SPIN))
        assert calm[0] == "calm"
    finally:
        pool.shutdown()
    assert stats.get_value("ingest/dropped/cpu_limit") == 1


# --- properties: dates and JSON-LD shapes -----------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
ANY_DATE = (
    JSON
    | st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2}|Z)?\Z")
    | st.from_regex(r"\A[A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}\Z")
)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def in_range(value: datetime | None) -> bool:
    return value is None or (EARLIEST <= value.astimezone(UTC) < LATEST and bool(to_utc_iso(value)))


@FAST
@given(ANY_DATE)
def test_no_date_value_raises_and_every_date_is_in_range(raw: Any) -> None:
    for parse in (parse_iso, parse_rfc822, parse_any):
        assert in_range(parse(raw))
    assert in_range(parse_local(raw, "Europe/Kyiv"))


@FAST
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), OFFSETS)
def test_any_instant_with_any_offset_parses_or_is_refused(when: datetime, tz: timezone) -> None:
    aware = when.replace(tzinfo=tz, microsecond=0)
    for value in (parse_iso(aware.isoformat()), parse_rfc822(format_datetime(aware))):
        assert in_range(value)
        inside = EARLIEST <= aware.astimezone(UTC) < LATEST if 2 <= when.year <= 9998 else None
        if inside is not None:
            assert (value == aware) is inside


@FAST
@given(ANY_DATE.filter(lambda v: isinstance(v, str) and "<" not in v and "&" not in v))
def test_one_bad_date_never_ends_a_feed_or_a_sitemap(raw: str) -> None:
    report = XmlReport()
    feed_body = rss([("https://a.example/1", GOOD_DATE), ("https://a.example/2", raw)])
    feed_body = (
        feed_body.replace(b"</rss>", b"") + b"<item><link>https://a.example/3</link></item></rss>"
    )
    assert [e.link for e in iter_feed(feed_body, report=report)][-1] == "https://a.example/3"
    sitemap = urlset([(f"https://a.example/{n}", d) for n, d in enumerate(["2025-07-04", raw, ""])])
    assert len(list(iter_sitemap(sitemap))) == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "@type",
                "@graph",
                "headline",
                "datePublished",
                "dateModified",
                "author",
                "publisher",
                "keywords",
                "articleBody",
                "description",
                "articleSection",
            ]
        ),
        JSON,
    ),
    st.integers(0, 3),
)
def test_any_json_ld_shape_gives_a_page_or_a_flag(obj: dict[str, Any], wrap: int) -> None:
    data: Any = {"@type": "NewsArticle", **obj}
    for _ in range(wrap):
        data = [data] if wrap % 2 else {"@graph": [data]}
    script = json.dumps(data).replace("</", "<\\/")
    html = article("A page", ld=script).decode()
    found = json_ld_article(html_selector(html))
    assert isinstance(found, dict)
    assert all(isinstance(t, str) for t in ld_types(found))
    item = parse_page(html_selector(html), "https://news.example.org/a.html")
    assert item.title
    assert item.published is None or in_range(parse_iso(item.published))
