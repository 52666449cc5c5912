"""Back-off on 429/503: the server's Retry-After wins, else base * 2**attempt, always capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from ingest.crawl.middlewares import BackoffRetryMiddleware, retry_after_seconds


def middleware(**settings: object) -> BackoffRetryMiddleware:
    crawler = get_crawler(Spider, settings_dict=settings)
    crawler.spider = crawler._create_spider("test")
    return BackoffRetryMiddleware(crawler)


@pytest.mark.parametrize(
    ("header", "expected"), [(b"120", 120.0), (b" 7 ", 7.0), (b"soon", None), (None, None)]
)
def test_retry_after_delta_seconds(header: bytes | None, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2025, 7, 4, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True).encode()
    assert retry_after_seconds(header, now=now.timestamp()) == pytest.approx(90.0)
    past = format_datetime(now - timedelta(seconds=90), usegmt=True).encode()
    assert retry_after_seconds(past, now=now.timestamp()) == 0.0


def test_delay_grows_per_attempt_and_is_capped() -> None:
    mw = middleware(INGEST_BACKOFF_BASE=2.0, INGEST_BACKOFF_MAX=10.0)
    url = "https://www.rbc.ua/rus/news/x-1751640540.html"
    response = Response(url, status=503)
    delays = [mw.backoff_delay(Request(url, meta={"retry_times": n}), response) for n in range(5)]
    assert delays == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_server_retry_after_wins_but_is_capped() -> None:
    mw = middleware(INGEST_BACKOFF_BASE=2.0, INGEST_BACKOFF_MAX=60.0)
    url = "https://www.rbc.ua/"
    assert (
        mw.backoff_delay(Request(url), Response(url, status=429, headers={"Retry-After": "30"}))
        == 30.0
    )
    assert (
        mw.backoff_delay(Request(url), Response(url, status=429, headers={"Retry-After": "3600"}))
        == 60.0
    )


class FakeSlot:
    delay = 1.0


class FakeDownloader:
    def __init__(self) -> None:
        self.slots = {"www.rbc.ua": FakeSlot()}

    def get_slot_key(self, request: Request) -> str:
        return "www.rbc.ua"


class FakeEngine:
    downloader = FakeDownloader()


def test_429_slows_the_domain_and_is_retried() -> None:
    mw = middleware(RETRY_TIMES=2, INGEST_BACKOFF_MAX=60.0)
    engine = FakeEngine()
    mw.crawler.engine = engine  # type: ignore[assignment]
    url = "https://www.rbc.ua/"
    response = Response(url, status=429, headers={"Retry-After": "30"})
    result = mw.process_response(Request(url), response)
    assert isinstance(result, Request)
    assert result.meta["retry_times"] == 1
    assert engine.downloader.slots["www.rbc.ua"].delay == 30.0
    assert mw.crawler.stats is not None
    assert mw.crawler.stats.get_value("ingest/backoff/count") == 1


def test_a_200_passes_untouched() -> None:
    mw = middleware()
    url = "https://www.rbc.ua/"
    response = Response(url, status=200)
    assert mw.process_response(Request(url), response) is response
