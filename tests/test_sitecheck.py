"""The selector check of every declared site (ingest/crawl/sitecheck.py): offline on the bundled
mirrors and the saved real pages, live (``pytest -m live``, ``make live-check``) on the real
sites, with the same code."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from ingest.crawl.sitecheck import (
    FetchError,
    LiveFetcher,
    MirrorFetcher,
    check_page,
    check_site,
    discovery_urls,
)
from ingest.demo import mirror_root
from ingest.sites import Site, SiteSelectors, registry

from .conftest import FIXTURES
from .crawl_helpers import copy_mirror

MIRRORS = MirrorFetcher([mirror_root("rbc"), mirror_root("sites")])
RBC_PAGE = FIXTURES / "rbc" / "article.html"
RBC_URL = "https://newsukraine.rbc.ua/news/zelenskyy-trump-air-defense-1751640540.html"


def saved_pages() -> list[tuple[str, Path, str]]:
    """(site, page, URL) of every saved article page of a declared site (its source.json)."""
    out = []
    for name in sorted(registry()):
        source = FIXTURES / name / "source.json"
        for fname, entry in json.loads(source.read_text("utf-8"))["files"].items():
            if entry["kind"] == "article":
                out.append(
                    (name, (source.parent / entry.get("path", fname)).resolve(), entry["url"])
                )
    return out


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_declared_site_passes_on_its_saved_feed_and_pages(name: str) -> None:
    result = check_site(registry()[name], MIRRORS)
    assert result.ok, result.report()
    assert len(result.pages) == 2
    assert all(page.body_chars >= 200 and page.title for page in result.pages)
    assert result.source in [url for _, url in discovery_urls(registry()[name])]


def test_the_links_come_from_the_feed_else_the_sitemap() -> None:
    rbc = check_site(registry()["rbc"], MIRRORS)
    assert rbc.source == "https://www.rbc.ua/static/rss/all.rus.rss.xml"  # rbc's FEEDS, uk first
    assert (
        rbc.pages[0].url
        == "https://www.rbc.ua/rus/news/zelenskyy-trump-air-defense-1751640540.html"
    )
    euronews = check_site(registry()["euronews"], MIRRORS)
    assert euronews.source == "https://www.euronews.com/sitemaps/en/latest-news.xml"
    assert euronews.notes == [
        "feed https://www.euronews.com/rss?level=vertical&name=news: HTTP 404 (not in the saved files)"
    ]


def test_robots_txt_is_obeyed(tmp_path: Path) -> None:
    root = copy_mirror(tmp_path)
    (root / "www.rbc.ua" / "robots.txt").write_text("User-agent: *\nDisallow: /rus/news/\n")
    result = check_site(registry()["rbc"], MirrorFetcher([root]))
    assert result.ok, result.report()
    assert not [p for p in result.pages if "/rus/news/" in p.url]


@pytest.mark.parametrize(
    ("name", "page", "url"), saved_pages(), ids=lambda v: getattr(v, "name", v)
)
def test_saved_real_pages_of_every_declared_site_pass(name: str, page: Path, url: str) -> None:
    result = check_page(page.read_text("utf-8"), url, registry()[name])
    assert result.ok, result.problems
    assert result.body_chars >= 200


def test_every_declared_site_has_saved_pages() -> None:
    assert {name for name, _, _ in saved_pages()} == set(registry())


def test_a_renamed_body_container_fails_and_names_the_selector(tmp_path: Path) -> None:
    root = copy_mirror(tmp_path)
    for page in root.rglob("*.html"):
        page.write_text(
            page.read_text("utf-8").replace('class="txt"', 'class="text-body"'), "utf-8"
        )
    result = check_site(registry()["rbc"], MirrorFetcher([root]))
    assert not result.ok
    report = result.report()
    assert report.startswith("rbc: FAILED")
    assert (
        report.count(
            "body 'article div.txt, article div.publication-sticky-container' matches nothing"
        )
        == 2
    )


def test_a_page_without_its_article_element_fails_root_title_and_body() -> None:
    html = (
        RBC_PAGE.read_text("utf-8")
        .replace("<article", "<section")
        .replace("</article", "</section")
    )
    result = check_page(html, RBC_URL, registry()["rbc"])
    assert result.problems == [
        "article_root 'article' matches nothing",
        "title 'article > h1' matches no text",
        "body 'article div.txt, article div.publication-sticky-container' matches nothing",
    ]


def test_a_body_selector_that_matches_a_stub_fails() -> None:
    doc = lxml.html.fromstring(RBC_PAGE.read_bytes())
    [body] = doc.cssselect("article div.txt")
    for child in list(body):
        body.remove(child)
    body.text = "Читайте нас у Telegram."
    html = lxml.html.tostring(doc, encoding="unicode")
    result = check_page(html, RBC_URL, registry()["rbc"])
    [problem] = result.problems
    assert problem.startswith(
        "body 'article div.txt, article div.publication-sticky-container' gives "
    )
    assert result.body_chars < 200


def test_a_site_without_readable_feeds_fails_with_every_reason(tmp_path: Path) -> None:
    result = check_site(registry()["pravda"], MirrorFetcher([tmp_path]))
    assert not result.ok
    assert result.problems == ["no feed or sitemap gave article links (see the notes)"]
    assert len(result.notes) == 3
    assert all("HTTP 404" in note for note in result.notes)


@pytest.fixture
def stalled_port() -> Iterator[int]:
    """A server that accepts connections and never answers (a dead network's worst case)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_a_server_that_never_answers_times_out(stalled_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        LiveFetcher(timeout=0.5)(f"http://127.0.0.1:{stalled_port}/rss.xml")
    assert time.monotonic() - started < 3


def test_a_site_check_gives_up_at_its_deadline(stalled_port: int) -> None:
    base = f"http://127.0.0.1:{stalled_port}"
    site = Site(
        name="stalled",
        domains=("127.0.0.1",),
        languages=("en",),
        feeds=tuple(f"{base}/feed{n}.xml" for n in range(20)),
        selectors=SiteSelectors(body="div.text"),
    )
    started = time.monotonic()
    result = check_site(site, LiveFetcher(timeout=0.3), deadline=1.0)
    assert time.monotonic() - started < 3
    assert not result.ok
    assert "timed out" in result.notes[0]
    assert "ran out of 1.0 s" in result.notes[-1]


def test_the_live_check_is_not_part_of_make_test() -> None:
    def collected(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
             "tests/test_sitecheck.py", *args],
            capture_output=True, text=True, timeout=120, check=False,
            cwd=Path(__file__).parent.parent,
        )  # fmt: skip
        return result.stdout

    default = collected()
    assert "test_live_site_selectors_still_match" not in default
    assert f"{len(registry())} deselected" in default
    live = collected("-m", "live")
    assert live.count("test_live_site_selectors_still_match") == len(registry())


@pytest.mark.live
@pytest.mark.parametrize("name", sorted(registry()))
def test_live_site_selectors_still_match(name: str) -> None:
    """The real site today: its feed or sitemap, two articles, the selectors on them."""
    result = check_site(registry()[name], LiveFetcher())
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)
