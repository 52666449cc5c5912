"""A page speaks only for its own site (issue 10, case 2): crawls of two hosts on a loopback
server, then the dedup and key rules alone.

Host B publishes articles; host A's pages name B's articles as their canonical or og:url, or
copy B's text. B is crawled, then A, then B again: B's rows stay B's. Same-site canonicals:
another article naming a stored one's URL keeps its own row; a version of a stored story (AMP)
merges without replacing it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector

from ingest.extract import html_selector, parse_page
from ingest.items import ArticleItem
from ingest.store.db import open_db
from ingest.urls import on_site, page_key
from pipelines.dedup import DedupPipeline, body_hash
from tests.crawl_helpers import CRAWL_TIMEOUT, LoopbackHandler, clean_env, urlset

A, B = "a-news.example", "b-news.example"
SENTENCE = "Sentence {i} of the story about {topic} tells the reader what happened in town today."


def page(topic: str, title: str, head: str = "") -> bytes:
    """A small, valid article page about ``topic`` (the same topic, the same text)."""
    text = " ".join(SENTENCE.format(i=i, topic=topic) for i in range(12))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'{head}<meta property="og:type" content="article"></head><body><article>'
        f"<h1>{title}</h1><p>{text}</p><p>{text.upper()}</p></article></body></html>"
    ).encode()


def canonical(url: str) -> str:
    return f'<link rel="canonical" href="{url}">'


BRIDGE, MARKET = f"https://{B}/bridge.html", f"https://{B}/market.html"
HUB, WEB = f"https://{B}/hub.html", f"https://{B}/web.html"
PAGES: dict[str, bytes] = {
    # B's own articles.
    f"{B}/bridge.html": page("the bridge", "Bridge reopens after repairs"),
    f"{B}/market.html": page("the market", "Market hall reopens"),
    # Two articles of B naming one hub page as their canonical (a CMS default), crawled apart.
    f"{B}/first.html": page("the first hub article", "First article on the hub", canonical(HUB)),
    f"{B}/second.html": page("the second hub article", "Second on the hub", canonical(HUB)),
    # One story twice: the web page, and its AMP version (same title, text slightly different).
    f"{B}/web.html": page("the web story", "Web story"),
    f"{B}/web-amp.html": page("the web story, amp", "Web story", canonical(WEB)),
    # A's pages naming B's articles, and a copy of B's text under another title.
    f"{A}/canon.html": page("a hijack", "Hijacked bridge", canonical(BRIDGE)),
    f"{A}/og.html": page(
        "an og hijack", "Hijacked market", f'<meta property="og:url" content="{MARKET}">'
    ),
    f"{A}/copy.html": page("the bridge", "Copied bridge"),
}
SITEMAPS = {
    f"{B}/sitemap-1.xml": ["bridge.html", "market.html", "first.html", "web.html"],
    f"{A}/sitemap.xml": ["canon.html", "og.html", "copy.html"],
    f"{B}/sitemap-2.xml": ["bridge.html", "market.html", "second.html", "web-amp.html"],
}


def sitemap(host: str, paths: list[str]) -> bytes:
    return urlset(f"https://{host}/{p}" for p in paths)


class Handler(LoopbackHandler):
    """Mirror paths (``/host/path``) → PAGES and SITEMAPS."""

    def do_GET(self) -> None:
        key = self.path.lstrip("/").split("?")[0]
        content_type = "text/html; charset=utf-8"
        if key in SITEMAPS:
            host = key.split("/")[0]
            status, body = 200, sitemap(host, SITEMAPS[key])
            content_type = "application/xml"
        elif key in PAGES:
            status, body = 200, PAGES[key]
        else:
            status, body = 404, b""
        self.reply(status, body, {"Content-Type": content_type})


def snapshot(db: Path) -> dict[str, Any]:
    """Every article row by URL, the revisions' URLs, and the last run's stats."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = {r["url"]: dict(r) for r in conn.execute("select * from articles")}
        revised = [r for (r,) in conn.execute("select article_url from revisions")]
        (stats,) = conn.execute("select stats from runs order by rowid desc limit 1").fetchone()
    finally:
        conn.close()
    return {"rows": rows, "revised": revised, "stats": json.loads(stats)}


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """B crawled, then A, then B again, into one database: a snapshot after each crawl."""
    db = tmp_path_factory.mktemp("hijack") / "news.db"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = {
        "INGEST_MIRROR": f"http://127.0.0.1:{server.server_address[1]}",
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "INGEST_WORKERS": "0",
    }
    snapshots = []
    try:
        for source in SITEMAPS:
            cmd = [sys.executable, "-m", "ingest", "crawl", "sitemap", "--db", str(db)]
            cmd += ["-a", f"url=https://{source}"]
            for key, value in settings.items():
                cmd += ["-s", f"{key}={value}"]
            result = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=CRAWL_TIMEOUT,
                check=False,
                env=clean_env(),
                cwd=Path(__file__).resolve().parents[1],
            )
            assert result.returncode == 0, result.stderr[-3000:]
            snapshots.append({**snapshot(db), "log": result.stderr})
    finally:
        server.shutdown()
        server.server_close()
    return snapshots


def b_rows_are_b(rows: dict[str, dict[str, Any]]) -> None:
    for url, title, topic in (
        (BRIDGE, "Bridge reopens after repairs", "the bridge"),
        (MARKET, "Market hall reopens", "the market"),
    ):
        row = rows[url]
        assert (row["title"], row["fetched_url"]) == (title, url)
        assert f"story about {topic} tells" in row["body"]


def test_a_canonical_or_og_url_on_another_host_does_not_rewrite_its_row(
    crawls: list[dict[str, Any]],
) -> None:
    after_a = crawls[1]
    b_rows_are_b(after_a["rows"])
    assert after_a["revised"] == []
    for own, named in ((f"https://{A}/canon.html", BRIDGE), (f"https://{A}/og.html", MARKET)):
        row = after_a["rows"][own]
        assert (row["fetched_url"], row["canonical_declared"], row["site"]) == (own, named, A)
    assert after_a["stats"]["ingest/canonical/offsite"] == 2
    assert [line for line in after_a["log"].splitlines() if "canonical off site" in line]


def test_b_crawled_again_keeps_its_own_rows(crawls: list[dict[str, Any]]) -> None:
    b_rows_are_b(crawls[2]["rows"])
    assert crawls[2]["revised"] == []


def test_a_copy_of_another_hosts_text_is_kept_under_its_own_url(
    crawls: list[dict[str, Any]],
) -> None:
    after_a = crawls[1]
    copy = after_a["rows"][f"https://{A}/copy.html"]
    assert copy["title"] == "Copied bridge"
    assert copy["body_hash"] == after_a["rows"][BRIDGE]["body_hash"]
    assert after_a["stats"]["ingest/dedup/cross_site_copy"] == 1
    assert after_a["stats"]["ingest/stored/new"] == 3


def test_a_same_site_canonical_to_another_stored_article_keeps_both(
    crawls: list[dict[str, Any]],
) -> None:
    first, later = crawls[0]["rows"], crawls[2]["rows"]
    assert (first[HUB]["fetched_url"], first[HUB]["title"]) == (
        f"https://{B}/first.html",
        "First article on the hub",
    )
    assert later[HUB] == first[HUB]  # untouched by the crawl that found the second article
    second = later[f"https://{B}/second.html"]
    assert (second["title"], second["canonical_declared"]) == ("Second on the hub", HUB)
    assert crawls[2]["stats"]["ingest/dedup/canonical_collision"] == 1


def test_a_version_of_a_stored_story_merges_without_replacing_it(
    crawls: list[dict[str, Any]],
) -> None:
    assert crawls[2]["rows"][WEB] == crawls[0]["rows"][WEB]
    assert f"https://{B}/web-amp.html" not in crawls[2]["rows"]
    assert crawls[2]["revised"] == []
    stats = crawls[2]["stats"]
    assert stats["ingest/dedup/canonical_merged"] == 1
    # Listed 4: second.html new, web-amp merged, bridge and market stored before.
    assert stats.get("ingest/stored/new") == 1
    assert not any(k.startswith("ingest/dropped/") for k in stats)


# --- the rules alone --------------------------------------------------------------------------


def item(fetched: str, title: str, body: str, url: str | None = None) -> ArticleItem:
    return ArticleItem(
        url=url or fetched,
        fetched_url=fetched,
        site=fetched.split("/")[2],
        fetched_at="2026-01-06T12:00:00+00:00",
        title=title,
        body=body,
    )


def store(db_path: Path, *rows: tuple[str, str, str, str]) -> None:
    """Rows of an earlier crawl: (url, fetched_url, title, body hash)."""
    db = open_db(db_path)
    for url, fetched, title, digest in rows:
        db.table("articles").insert(
            {
                "url": url,
                "fetched_url": fetched,
                "site": url.split("/")[2],
                "title": title,
                "body": "stored text",
                "body_hash": digest,
                "fetched_at": "2026-01-05T12:00:00+00:00",
            }
        )
    db.close()


def test_page_key_keeps_a_canonical_on_the_pages_site_only() -> None:
    assert page_key(BRIDGE, f"https://{A}/x.html") == (f"https://{A}/x.html", BRIDGE)
    assert page_key(f"https://www.{B}/b.html", f"https://m.{B}/b.html") == (
        f"https://www.{B}/b.html",
        None,
    )
    # A declared site's domains: rbc's English host names a www.rbc.ua page.
    rbc = "https://www.rbc.ua/rus/news/x-1751640540.html"
    assert page_key(rbc, "https://newsukraine.rbc.ua/news/x-1751640540.html") == (rbc, None)
    assert not on_site(f"https://{B}@{A}/x.html", f"https://{B}/y.html")  # userinfo is no host
    assert page_key("/relative.html", f"https://{A}/x.html") == (f"https://{A}/x.html", None)


def test_parse_page_keys_a_hijacking_page_by_its_own_url() -> None:
    html = page("a hijack", "Hijacked bridge", canonical(BRIDGE)).decode()
    parsed = parse_page(html_selector(html), f"https://{A}/canon.html?utm_source=x")
    assert (parsed.url, parsed.canonical_declared, parsed.site) == (
        f"https://{A}/canon.html",
        BRIDGE,
        A,
    )


def test_dedup_never_moves_a_page_to_another_hosts_url(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    store(db_path, (BRIDGE, BRIDGE, "Bridge reopens", body_hash("The bridge text.")))
    copy = item(f"https://{A}/copy.html", "Copied bridge", "The bridge text.")
    kept = DedupPipeline(stats, str(db_path)).process_item(copy)
    assert kept.url == f"https://{A}/copy.html"
    assert stats.get_value("ingest/dedup/cross_site_copy") == 1
    assert stats.get_value("ingest/dedup/rekeyed") is None


def test_dedup_refuses_a_key_on_another_host(stats: MemoryStatsCollector, db_path: Path) -> None:
    hijack = item(f"https://{A}/canon.html", "Hijacked", "Other text.", url=BRIDGE)
    kept = DedupPipeline(stats, str(db_path)).process_item(hijack)
    assert (kept.url, kept.canonical_declared) == (f"https://{A}/canon.html", BRIDGE)
    assert stats.get_value("ingest/canonical/offsite") == 1


def test_dedup_same_site_same_text_other_title_is_a_duplicate_not_an_overwrite(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    store(db_path, (BRIDGE, BRIDGE, "Bridge reopens", body_hash("Text.")))
    moved = item(f"https://{B}/bridge-new.html", "Bridge reopens", "Text.")
    assert DedupPipeline(stats, str(db_path)).process_item(moved).url == BRIDGE  # it moved
    retitled = item(f"https://{B}/bridge-copy.html", "Another title", "Text.")
    with pytest.raises(DropItem, match="same text as stored"):
        DedupPipeline(stats, str(db_path)).process_item(retitled)
    assert stats.get_value("ingest/dropped/duplicate") == 1


def test_dedup_a_same_site_canonical_to_an_earlier_crawls_article_keeps_both(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    store(db_path, (HUB, f"https://{B}/first.html", "First article on the hub", "f" * 64))
    second = item(f"https://{B}/second.html", "Second on the hub", "Other text.", url=HUB)
    kept = DedupPipeline(stats, str(db_path)).process_item(second)
    assert (kept.url, kept.canonical_declared) == (f"https://{B}/second.html", HUB)
    assert stats.get_value("ingest/dedup/canonical_collision") == 1


def test_dedup_keeps_hreflang_alternates_of_the_pages_site_only(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    page_item = item("https://www.rbc.ua/rus/news/x-1751640540.html", "Title", "Text.")
    page_item.site = "rbc"
    page_item.alternates = {
        "en": "https://newsukraine.rbc.ua/news/x-1751640540.html",
        "ru": f"https://{B}/ru/x.html",
    }
    kept = DedupPipeline(stats, str(db_path)).process_item(page_item)
    assert kept.alternates == {"en": "https://newsukraine.rbc.ua/news/x-1751640540.html"}
    assert stats.get_value("ingest/canonical/offsite_alternate") == 1


def test_dedup_keeps_a_stored_page_whose_text_became_another_pages_as_its_own_revision(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    store(
        db_path,
        (BRIDGE, BRIDGE, "Bridge reopens", "b" * 64),
        (MARKET, MARKET, "Market hall reopens", body_hash("Shared text.")),
    )
    revised = item(BRIDGE, "Bridge reopens", "Shared text.")
    assert DedupPipeline(stats, str(db_path)).process_item(revised).url == BRIDGE
    assert stats.get_value("ingest/dedup/rekeyed") is None
