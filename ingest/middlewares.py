"""Downloader middlewares: retries that back off, as a polite crawler must on 429/503."""

from __future__ import annotations

import email.utils
import time
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response

BACKOFF_CODES = frozenset({429, 503})


def retry_after_seconds(value: bytes | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, plus back-off on 429/503: the domain's download slot is slowed to the
    server's Retry-After, or to base * 2**attempt, capped; AutoThrottle lowers it again later."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.base = crawler.settings.getfloat("INGEST_BACKOFF_BASE", 2.0)
        self.cap = crawler.settings.getfloat("INGEST_BACKOFF_MAX", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def backoff_delay(self, request: Request, response: Response) -> float:
        """How long the slot waits before the retry of this request."""
        attempt = int(request.meta.get("retry_times", 0))
        delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if delay is None:
            delay = self.base * (2**attempt)
        return min(delay, self.cap)

    # Scrapy >= 2.14 drops the spider argument; the base class still declares it, deprecated.
    def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        if response.status in BACKOFF_CODES and not request.meta.get("dont_retry", False):
            delay = self.backoff_delay(request, response)
            engine = self.crawler.engine
            if engine is not None:
                downloader = engine.downloader
                slot = downloader.slots.get(downloader.get_slot_key(request))
                if slot is not None:
                    # The slot jitters its delay by ±jitter (DOWNLOAD_DELAY_JITTER; ±50% with
                    # RANDOMIZE_DOWNLOAD_DELAY before Scrapy 2.19): raised so that even the
                    # shortest jittered wait is the one the server asked for.
                    jitter = getattr(slot, "jitter", None)
                    if jitter is None:
                        jitter = 0.5 if getattr(slot, "randomize_delay", False) else 0.0
                    jitter = float(jitter)
                    slot.delay = max(slot.delay, delay / (1 - jitter) if jitter < 1 else delay)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("ingest/backoff/count")
            self.crawler.stats.max_value("ingest/backoff/max_delay", delay)
        return super().process_response(request, response)
