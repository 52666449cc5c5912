"""Hostile servers and pages: the crawl keeps going, stores the good pages, lets nothing bad in,
and counts every loss under its reason (``ingest/dropped/<reason>``).

The real rbc spider, settings and pipelines run in a subprocess against tests/faultserver.py,
with a 2 s DOWNLOAD_TIMEOUT and one retry (tests/faultserver.py LOOPBACK); DOWNLOAD_MAXSIZE and
DOWNLOAD_WARNSIZE are the project's own. Every case is a route of one crawl; its server-side hit
count proves retries happened, and were bounded.
"""

from __future__ import annotations

import random

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from ingest import settings as project_settings
from ingest.crawl.failures import failure_reason
from ingest.crawl.middlewares import BackoffRetryMiddleware

from .faultserver import (
    HOST,
    MIB,
    Behaviour,
    CrawlResult,
    FaultServer,
    article_html,
    article_url,
    brotli_bomb,
    compressed,
    crawl_rbc,
    gzip_bomb,
    mirror_path,
    page,
    redirect,
    reset,
    serve,
    site_routes,
    stall,
    status,
    streamed,
    then,
    truncated,
)

RETRIES = 1  # RETRY_TIMES in faultserver.LOOPBACK: a retried failure is asked for twice
TEXT = (
    "Київ, 4 липня. Уряд затвердив план ремонту енергетичної інфраструктури до зими, "
    "повідомили в Міністерстві енергетики. На відновлення підстанцій спрямують кошти "
    "резервного фонду, а роботи мають завершити до жовтня."
)


def good(slug: str) -> bytes:
    """A valid, unique article page (dedup would merge identical bodies)."""
    return article_html(
        f"Новина {slug}", [TEXT, f"Деталі випадку {slug} і подальші кроки."]
    ).encode()


def url(slug: str) -> str:
    return article_url(slug, sum(map(ord, slug)))


def minified(slug: str) -> bytes:
    """A whole page on one line, 2 MB of it an inline script: what minifiers and SPAs serve."""
    blob = "var state=" + '{"k":"' + "x" * 2 * MIB + '"};'
    return good(slug).replace(b"</head>", f"<script>{blob}</script></head>".encode())


def deep_after(slug: str) -> bytes:
    """The article, then 5000 unclosed <div>: a broken template after the text."""
    return good(slug).replace(b"</body>", b"<div>" * 5000 + b"</body>")


def deep_inside(slug: str) -> bytes:
    """The text inside 3000 nested <div>: deeper than lxml goes (2048), so the text is lost."""
    html = good(slug).decode()
    start, end = html.index('<div class="txt">') + len('<div class="txt">'), html.index("</div>")
    return (html[:start] + "<div>" * 3000 + html[start:end] + "</div>" * 3000 + html[end:]).encode()


def binary(seed: int) -> bytes:
    return random.Random(seed).randbytes(50_000)  # noqa: S311  (test data, not crypto)


JS_SHELL = (
    b"<!DOCTYPE html><html><head><title>RBC-Ukraine</title><script src='/app.js'></script>"
    b"</head><body><div id='app'></div><noscript>Enable JavaScript</noscript></body></html>"
)
PNG = b"\x89PNG\r\n\x1a\n" + binary(1)

# slug -> behaviour: pages that must be stored...
GOOD: dict[str, Behaviour] = {
    "plain": page(good("plain")),
    "gzip-encoded": compressed(good("gzip-encoded"), "gzip"),
    "brotli-encoded": compressed(good("brotli-encoded"), "br"),
    "deflate-encoded": compressed(good("deflate-encoded"), "deflate"),
    "minified-2mb-line": page(minified("minified-2mb-line")),
    "deep-nesting-after-text": page(deep_after("deep-nesting-after-text")),
    "500-then-ok": then([status(500)], page(good("500-then-ok"))),
    "reset-then-ok": then([reset()], page(good("reset-then-ok"))),
    "redirect-then-ok": redirect(url("redirect-target")),
    "redirect-target": page(good("redirect-target")),
}
# ... and pages that must not be, with the reason they are counted under and the number of
# requests the server must see for them (retries included).
BAD: dict[str, tuple[Behaviour, str, int]] = {
    "declared-too-large": (page(b"x", length=17 * MIB), "too_large", 1),
    "streamed-too-large": (streamed(20 * MIB), "too_large", 1),
    "gzip-bomb": (page(gzip_bomb(256), headers={"Content-Encoding": "gzip"}), "too_large", 1),
    "brotli-bomb": (page(brotli_bomb(64), headers={"Content-Encoding": "br"}), "too_large", 1),
    "random-bytes-as-html": (page(binary(2), "text/html"), "binary", 1),
    "png-as-html": (page(PNG, "text/html; charset=utf-8"), "binary", 1),
    "truncated": (truncated(good("truncated")[:3000], 20_000), "data_loss", 1 + RETRIES),
    "empty-200": (page(b""), "empty_page", 1),
    "javascript-shell": (page(JS_SHELL), "no_body", 1),
    "deep-nesting-around-text": (page(deep_inside("deep-nesting-around-text")), "too_short", 1),
    "always-500": (status(500), "http_500", 1 + RETRIES),
    "always-502": (status(502), "http_502", 1 + RETRIES),
    "gone-404": (status(404), "http_404", 1),
    "stalls": (stall(10), "timeout", 1 + RETRIES),
    "resets": (reset(), "connection", 1 + RETRIES),
}
LOOP_A, LOOP_B = url("redirect-loop-a"), url("redirect-loop-b")
COUNTER_LOOP = url("redirect-loop-counter")
OFFSITE = "https://evil.example/news/phish-1751600001.html"
PRIVATE = f"https://{HOST}/private/secret-1751600002.html"
REDIRECT_MAX = 4


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlResult, FaultServer]:
    extra = {
        "redirect-loop-a": redirect(LOOP_B),
        "redirect-loop-b": redirect(LOOP_A),
        # a new URL each time (?n=1, ?n=2...), as session-check redirects do
        "redirect-loop-counter": lambda h, n: redirect(f"{COUNTER_LOOP}?n={n}")(h, n),
        "redirect-offsite": redirect(OFFSITE, 301),
    }
    listed = [url(s) for s in [*GOOD, *BAD, *extra] if s != "redirect-target"] + [PRIVATE]
    routes = site_routes(listed, robots="User-agent: *\nDisallow: /private/\n")
    for slug, behaviour in [*GOOD.items(), *extra.items()]:
        routes[mirror_path(url(slug))] = behaviour
    for slug, (behaviour, _, _) in BAD.items():
        routes[mirror_path(url(slug))] = behaviour
    routes[mirror_path(OFFSITE)] = page(good("offsite"))
    routes[mirror_path(PRIVATE)] = page(good("private"))
    db = tmp_path_factory.mktemp("faults") / "news.db"
    with serve(routes) as server:
        result = crawl_rbc(server, db, REDIRECT_MAX_TIMES=str(REDIRECT_MAX))
    return result, server


def test_the_crawl_finishes_in_bounded_time_requests_and_memory(
    crawl: tuple[CrawlResult, FaultServer],
) -> None:
    result, server = crawl
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished"
    assert result.seconds < 60
    # every route at most 1 + RETRIES times, the loop REDIRECT_MAX + 1 times, plus robots, feed,
    # listing
    assert len(server.hits) <= 2 * (len(GOOD) + len(BAD)) + REDIRECT_MAX + 1 + 3
    # bombs and oversized bodies stop at DOWNLOAD_MAXSIZE (16 MiB), not at 256 MiB: a crawl
    # holds ~440 MiB with the search analysers' dictionaries (~240 MB, issue 12); one 256 MiB
    # body read into memory would pass 600
    assert result.max_rss_mib < 600
    assert "Traceback" not in result.log


def test_good_pages_are_stored(crawl: tuple[CrawlResult, FaultServer]) -> None:
    result, _ = crawl
    stored = {u for u in result.articles}
    assert stored == {url(s) for s in GOOD if s != "redirect-then-ok"}
    for slug in GOOD:
        if slug != "redirect-then-ok":
            assert f"Деталі випадку {slug} " in result.articles[url(slug)]["body"], slug
    assert result.stats["ingest/stored"] == len(GOOD) - 1


@pytest.mark.parametrize("slug", list(BAD))
def test_bad_pages_are_counted_drops_never_stored(
    crawl: tuple[CrawlResult, FaultServer], slug: str
) -> None:
    result, server = crawl
    _, reason, requests = BAD[slug]
    assert url(slug) not in result.articles
    assert result.dropped(reason) == sum(1 for r in BAD.values() if r[1] == reason)
    assert len(server.hits_of(mirror_path(url(slug)))) == requests


def test_redirect_loops_end(crawl: tuple[CrawlResult, FaultServer]) -> None:
    """A → B → A ends at the dupefilter (A was asked for); a loop through ever new URLs at
    REDIRECT_MAX_TIMES, counted as ``redirect_loop``."""
    result, server = crawl
    assert len(server.hits_of(mirror_path(LOOP_A))) == 1
    assert len(server.hits_of(mirror_path(LOOP_B))) == 1
    assert result.stats["dupefilter/filtered"] >= 1
    assert len(server.hits_of(mirror_path(COUNTER_LOOP))) == REDIRECT_MAX + 1
    assert result.dropped("redirect_loop") == 1
    assert not [u for u in result.articles if "redirect-loop" in u]


def test_a_redirect_off_the_allowed_domains_is_not_followed(
    crawl: tuple[CrawlResult, FaultServer],
) -> None:
    result, server = crawl
    assert server.hits_of(mirror_path(url("redirect-offsite")))
    assert server.hits_of(mirror_path(OFFSITE)) == []
    assert result.stats["offsite/filtered"] == 1
    assert not any("evil.example" in u for u in result.articles)


def test_robots_txt_disallow_is_honoured(crawl: tuple[CrawlResult, FaultServer]) -> None:
    result, server = crawl
    assert server.hits_of(mirror_path(PRIVATE)) == []
    assert result.stats["robotstxt/forbidden"] == 1
    assert PRIVATE not in result.articles


def test_retried_then_successful_pages_count_their_retries(
    crawl: tuple[CrawlResult, FaultServer],
) -> None:
    result, server = crawl
    for slug in ("500-then-ok", "reset-then-ok"):
        assert len(server.hits_of(mirror_path(url(slug)))) == 2, slug
    assert result.stats["retry/max_reached"] == sum(1 for r in BAD.values() if r[2] > 1)


def test_size_limits_are_sensible_for_news() -> None:
    """News pages weigh 50 kB - 2 MB (the minified page above is one); 16 MiB stops bombs."""
    assert 8 * MIB <= project_settings.DOWNLOAD_MAXSIZE <= 32 * MIB
    assert 2 * MIB <= project_settings.DOWNLOAD_WARNSIZE < project_settings.DOWNLOAD_MAXSIZE


# --- back-off: its own crawl, since a 429 slows every later request of the slot --------------


@pytest.fixture(scope="module")
def backoff(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlResult, FaultServer]:
    slow = {
        "429-retry-after-1": then(
            [status(429, {"Retry-After": "1"})], page(good("429-retry-after-1"))
        ),
        "429-retry-after-an-hour": then(
            [status(429, {"Retry-After": "3600"})], page(good("429-retry-after-an-hour"))
        ),
        "429-forever": status(429, {"Retry-After": "1"}),
    }
    routes = site_routes([url(s) for s in slow])
    for slug, behaviour in slow.items():
        routes[mirror_path(url(slug))] = behaviour
    with serve(routes) as server:
        # one request at a time, so the gap between a 429 and its retry is the back-off alone
        result = crawl_rbc(
            server,
            tmp_path_factory.mktemp("backoff") / "news.db",
            CONCURRENT_REQUESTS="1",
            INGEST_BACKOFF_MAX="1.5",
        )
    return result, server


def test_retry_after_is_honoured_and_capped(backoff: tuple[CrawlResult, FaultServer]) -> None:
    result, server = backoff
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished"
    assert set(result.articles) == {
        url(s) for s in ("429-retry-after-1", "429-retry-after-an-hour")
    }
    first, second = server.hits_of(mirror_path(url("429-retry-after-1")))
    assert second.at - first.at >= 1.0  # never sooner than the server asked, jitter or not
    # Retry-After: 3600 is capped by INGEST_BACKOFF_MAX (1.5 s here): the crawl waited seconds,
    # not an hour (with the other retries queued on the one slot before it)
    capped = server.hits_of(mirror_path(url("429-retry-after-an-hour")))
    assert len(capped) == 2
    assert 1.5 <= capped[1].at - capped[0].at <= 20.0
    assert result.stats["ingest/backoff/max_delay"] == 1.5
    assert result.seconds < 45
    assert result.dropped("http_429") == 1
    assert len(server.hits_of(mirror_path(url("429-forever")))) == 1 + RETRIES


def test_backoff_outlasts_the_slot_jitter() -> None:
    """A slot with ±50% jitter gets delay / 0.5, so its shortest wait is the Retry-After."""

    class Slot:
        delay, jitter = 0.0, 0.5

    slot = Slot()

    class Downloader:
        def __init__(self) -> None:
            self.slots = {"www.rbc.ua": slot}

        def get_slot_key(self, request: Request) -> str:
            return "www.rbc.ua"

    class Engine:
        downloader = Downloader()

    crawler = get_crawler(Spider, settings_dict={"INGEST_BACKOFF_MAX": 60.0})
    crawler.spider = crawler._create_spider("test")
    mw = BackoffRetryMiddleware(crawler)
    crawler.engine = Engine()  # type: ignore[assignment]
    link = "https://www.rbc.ua/"
    mw.process_response(Request(link), Response(link, status=429, headers={"Retry-After": "10"}))
    assert slot.delay == 20.0


# --- the reasons, pinned to Scrapy's messages ------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (IgnoreRequest("Forbidden by robots.txt"), "robots_forbidden"),
        (IgnoreRequest("max redirections reached"), "redirect_loop"),
        (IgnoreRequest("Filtered offsite request to 'evil.example'"), "offsite"),
        (
            IgnoreRequest(
                "Ignored response <200 x> because its body (1 B compressed, 17 B "
                "decompressed so far) exceeded DOWNLOAD_MAXSIZE (16 B) during "
                "decompression."
            ),
            "too_large",
        ),
        (IgnoreRequest("something new"), "ignored"),
        (HttpError(Response("https://x.test/", status=418)), "http_418"),
        (ValueError("unexpected"), "download_error"),
    ],
)
def test_failure_reasons(exc: Exception, reason: str) -> None:
    """The messages are Scrapy 2.19's; the crawl above checks them for real (robots.txt,
    redirect loop, offsite, bombs), so a release that rewords one fails there too."""
    failure = Failure(exc)  # type: ignore[no-untyped-call]
    assert failure_reason(failure) == reason
