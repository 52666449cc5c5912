"""Pages a crawl used to lose without a counted reason (issue 9), on hand-made pages and sitemaps
crawled by the real ``sitemap`` spider on 127.0.0.1: each ends stored, or counted under
``ingest/dropped/<reason>`` with an INFO line (benchmarks/crawl_real_pages.py measures the rest).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy import signals
from scrapy.http import HtmlResponse
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from ingest.items import ArticleItem
from pipelines.dedup import DedupPipeline
from spiders.sitemap import SitemapSpider
from tests.crawl_helpers import CRAWL_TIMEOUT, LoopbackHandler, clean_env, urlset

HOST = "news.example.org"
SITE = f"https://{HOST}"
SENTENCE = "Sentence {i} of the story about {topic} tells the reader what happened in town today."
BOOM = "exploding"  # a page whose title has this word makes ExplodingPipeline raise


def page(topic: str, head: str = "", title: str | None = None) -> bytes:
    """A small, valid, unique article page about ``topic``."""
    text = " ".join(SENTENCE.format(i=i, topic=topic) for i in range(12))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title or 'Story of ' + topic}</title>{head}"
        f'<meta property="og:type" content="article"></head><body><article>'
        f"<h1>{title or 'Story of ' + topic}</h1><p>{text}</p><p>{text.upper()}</p>"
        f"</article></body></html>"
    ).encode()


class ExplodingPipeline:
    """An article stage that crashes on one page, as an extractor bug would."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        if BOOM in (item.title or "").lower():
            raise ValueError("extractor bug")
        return item


# --- the hand-made site -----------------------------------------------------------------------

LONG = "/long-" + "x" * 2100 + ".html"
# path -> (status, headers, body); "/" paths are on HOST, "other.example/..." on that host.
FILES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/plain.html": (200, {}, page("plain things")),
    # A reload timer naming the page itself: Scrapy follows it into its own dupefilter.
    "/refresh.html": (
        200,
        {},
        page("reloading", f'<meta http-equiv="refresh" content="30; url={SITE}/refresh.html">'),
    ),
    # An old URL moved to a new host the crawl does not allow.
    "/moved.html": (301, {"Location": "https://other.example/moved.html"}, b""),
    "other.example/moved.html": (200, {}, page("moving")),
    # An old URL moved to a page the sitemap lists too.
    "/old.html": (301, {"Location": f"{SITE}/new.html"}, b""),
    "/new.html": (200, {}, page("renaming")),
    # One page listed under two spellings of its query.
    "/query.html": (200, {}, page("querying")),
    # Two different articles whose canonical is the home page.
    "/one.html": (200, {}, page("first topic", f'<link rel="canonical" href="{SITE}/">')),
    "/two.html": (200, {}, page("second topic", f'<link rel="canonical" href="{SITE}/">')),
    # The same story twice (AMP and web), one canonical, bodies differing slightly.
    "/story.html": (200, {}, page("one story", title="One story")),
    "/story-amp.html": (
        200,
        {},
        page("one story, amp", f'<link rel="canonical" href="{SITE}/story.html">', "One story"),
    ),
    LONG: (200, {}, page("long")),
    "/boom.html": (200, {}, page(BOOM)),
}
LISTED = [
    "/plain.html",
    "/refresh.html",
    "/moved.html",
    "/old.html",
    "/new.html",
    "/query.html?a=1&b=2",
    "/query.html?b=2&a=1",
    "/one.html",
    "/two.html",
    "/story.html",
    "/story-amp.html",
    LONG,
    "/boom.html",
]


def sitemap() -> bytes:
    return urlset(f"{SITE}{p}" for p in LISTED)


class Handler(LoopbackHandler):
    """Mirror paths (``/host/path``) → FILES; the query is ignored."""

    def do_GET(self) -> None:
        host, _, rest = self.path.lstrip("/").partition("/")
        path = "/" + rest.split("?")[0]
        key = path if host == HOST else f"{host}{path}"
        if path == "/sitemap.xml" and host == HOST:
            status, headers, body = 200, {"Content-Type": "application/xml"}, sitemap()
        elif key in FILES:
            status, headers, body = FILES[key]
        else:
            status, headers, body = 404, {}, b""
        self.reply(status, body, {"Content-Type": "text/html; charset=utf-8", **headers})


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``ingest crawl sitemap`` of the site; its stored rows, stats and log."""
    tmp = tmp_path_factory.mktemp("losses")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipelines = {  # the project's, and an article stage that crashes, after language
        **get_project_settings().getdict("ITEM_PIPELINES"),
        "tests.test_crawl_losses.ExplodingPipeline": 250,
    }
    settings = {
        "INGEST_MIRROR": f"http://127.0.0.1:{server.server_address[1]}",
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "INGEST_WORKERS": "0",
        "ITEM_PIPELINES": json.dumps(pipelines),
    }
    cmd = [sys.executable, "-m", "ingest", "crawl", "sitemap", "--db", str(tmp / "news.db")]
    cmd += ["-a", f"url={SITE}/sitemap.xml"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    try:
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=CRAWL_TIMEOUT,
            check=False,
            env=clean_env(),
            cwd=Path(__file__).resolve().parents[1],
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr[-3000:]
    conn = sqlite3.connect(tmp / "news.db")
    try:
        rows = {
            url: fetched for url, fetched in conn.execute("select url, fetched_url from articles")
        }
        revised = [r for (r,) in conn.execute("select article_url from revisions")]
        (stats,) = conn.execute("select stats from runs").fetchone()
    finally:
        conn.close()
    return {"rows": rows, "revised": revised, "stats": json.loads(stats), "log": result.stderr}


def info_lines(log: str, words: str) -> list[str]:
    return [line for line in log.splitlines() if " INFO: " in line and words in line]


def test_every_listed_page_is_stored_or_counted(crawled: dict[str, Any]) -> None:
    stats = crawled["stats"]
    drops = {k: v for k, v in stats.items() if k.startswith("ingest/dropped/")}
    assert drops == {
        "ingest/dropped/offsite_redirect": 1,
        "ingest/dropped/duplicate_redirect": 1,
        "ingest/dropped/url_too_long": 1,
        "ingest/dropped/pipeline_error": 1,
    }
    listed_twice = stats["ingest/filtered/listed_twice"]
    merged = stats["ingest/dedup/canonical_merged"]
    stored = stats["ingest/stored/new"]
    assert (listed_twice, merged, stored) == (1, 1, 7)
    assert stored + sum(drops.values()) + listed_twice + merged == len(LISTED)


def test_a_redirect_off_the_allowed_domains_is_a_counted_drop(crawled: dict[str, Any]) -> None:
    assert info_lines(crawled["log"], f"dropped (offsite_redirect): {SITE}/moved.html")


def test_a_redirect_to_a_page_already_requested_is_counted(crawled: dict[str, Any]) -> None:
    assert crawled["rows"][f"{SITE}/new.html"] == f"{SITE}/new.html"
    assert info_lines(crawled["log"], f"dropped (duplicate_redirect): {SITE}/old.html")


def test_a_meta_refresh_to_the_page_itself_is_stored(crawled: dict[str, Any]) -> None:
    assert f"{SITE}/refresh.html" in crawled["rows"]
    assert crawled["stats"]["ingest/refetched/meta_refresh"] == 1


def test_one_url_listed_in_two_spellings_is_counted_once(crawled: dict[str, Any]) -> None:
    assert sum("query.html" in url for url in crawled["rows"]) == 1


def test_an_overlong_url_is_a_counted_drop(crawled: dict[str, Any]) -> None:
    assert info_lines(crawled["log"], "dropped (url_too_long)")


def test_an_exception_in_a_pipeline_is_a_counted_drop(crawled: dict[str, Any]) -> None:
    assert info_lines(crawled["log"], f"dropped (pipeline_error): {SITE}/boom.html")


def test_two_articles_with_one_canonical_are_both_stored(crawled: dict[str, Any]) -> None:
    rows = crawled["rows"]  # the first fetched keeps the canonical, the other its own URL
    first, other = rows[f"{SITE}/"], {f"{SITE}/one.html", f"{SITE}/two.html"} - {rows[f"{SITE}/"]}
    assert first in (f"{SITE}/one.html", f"{SITE}/two.html")
    assert [rows.get(url) for url in other] == list(other)
    assert crawled["stats"]["ingest/dedup/canonical_collision"] == 1


def test_two_versions_of_one_story_are_merged_and_counted(crawled: dict[str, Any]) -> None:
    # The page at the canonical URL writes the story's row (issue 10): the AMP version is
    # dropped when it comes second, or kept in revisions when it came first; never the other
    # way round, so the row does not flip between versions crawl after crawl.
    assert crawled["rows"][f"{SITE}/story.html"] == f"{SITE}/story.html"
    assert crawled["revised"] in ([], [f"{SITE}/story.html"])
    assert info_lines(crawled["log"], "canonical merged")


# --- alone ------------------------------------------------------------------------------------


def item(fetched: str, title: str, body: str, url: str = f"{SITE}/") -> ArticleItem:
    return ArticleItem(
        url=url,
        fetched_url=fetched,
        site="example",
        fetched_at="2026-01-06T12:00:00+00:00",
        title=title,
        body=body,
    )


def test_dedup_keys_a_colliding_article_by_its_own_url(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    pipeline = DedupPipeline(stats, str(db_path))
    first = pipeline.process_item(item(f"{SITE}/a.html", "Floods in the north", "Water rose."))
    second = pipeline.process_item(item(f"{SITE}/b.html", "Budget passed", "MPs voted."))
    assert (first.url, second.url) == (f"{SITE}/", f"{SITE}/b.html")
    assert stats.get_value("ingest/dedup/canonical_collision") == 1


def test_dedup_keeps_a_page_fetched_twice_as_a_revision(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    pipeline = DedupPipeline(stats, str(db_path))
    first = item(f"{SITE}/a.html", "Floods", "Water rose.", f"{SITE}/a.html")
    pipeline.process_item(first)
    again = pipeline.process_item(replace(first, title="Floods: update", body="Water fell."))
    assert again.url == f"{SITE}/a.html"
    assert stats.get_value("ingest/dedup/canonical_collision") is None
    assert stats.get_value("ingest/dedup/canonical_merged") is None


def test_a_callback_exception_is_a_counted_drop() -> None:
    crawler = get_crawler(SitemapSpider, {"LOG_LEVEL": "INFO"})
    spider = SitemapSpider.from_crawler(crawler, url=f"{SITE}/sitemap.xml")
    crawler.spider = spider
    assert crawler.stats is not None
    response = HtmlResponse(f"{SITE}/x.html", body=b"<html></html>")
    failure = Failure(ValueError("bug"))  # type: ignore[no-untyped-call]
    crawler.signals.send_catch_log(
        signals.spider_error, failure=failure, response=response, spider=spider
    )
    assert crawler.stats.get_value("ingest/dropped/spider_error") == 1
