"""Downloader middlewares: retries that back off, as a polite crawler must on 429/503, and the
URL check every request passes (only http and https, ever)."""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import time
from collections.abc import Collection, Iterable
from typing import Self
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

BACKOFF_CODES = frozenset({429, 503})
WEB_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def on_domains(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one. An IP literal (``127.0.0.1``,
    ``::1``) matches only itself: ``1.127.0.0.1`` is no subdomain of anything."""
    host = host.lower().rstrip(".")
    for domain in domains:
        domain = domain.lower().strip().strip("[]").rstrip(".")
        if not domain:
            continue
        if host == domain:
            return True
        if host.endswith("." + domain) and not _is_ip(domain) and not _is_ip(host):
            return True
    return False


def url_refusal(
    url: str, domains: Collection[str] | None = None, ports: Collection[int] | None = None
) -> str | None:
    """Why a URL that came from a document (feed, sitemap, page link, redirect, meta refresh)
    is not fetched, or None: the one scheme-and-host check of the crawl.

    ``scheme``: not http or https (``file://`` read local files through Scrapy's handlers).
    ``userinfo``: ``user@`` in the authority; parsers disagree on where such a host ends
    (``http://a.com\\@b.com``), and news URLs never carry one. ``bad_url``: no host, or one
    that does not parse. ``port``: an explicit port other than the scheme's default or one of
    ``ports`` (None: any port). ``offsite``: a host outside ``domains`` (None or empty: any).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # "http://[::1", "http://a:99999/"
        return "bad_url"
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES:
        return "scheme"
    if "@" in parts.netloc:
        return "userinfo"
    host = parts.hostname or ""
    if not host:
        return "bad_url"
    default = DEFAULT_PORTS[scheme]
    if ports is not None and port is not None and port != default and port not in ports:
        return "port"
    if domains and not on_domains(host, domains):
        return "offsite"
    return None


class RefusedUrl(IgnoreRequest):
    """A request whose URL ``url_refusal`` refused: already counted as
    ``ingest/filtered/<reason>``, so the spider's errback does not count it as a drop."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(f"refused URL ({reason}): {url[:200]}")
        self.reason = reason


class UrlGuardMiddleware:
    """Every request the downloader gets, redirects and meta refreshes included (they come
    back through here), passes ``url_refusal`` with the spider's domains and ports
    (``NewsSpider.url_refusal``); a refused one is ``ingest/filtered/<reason>`` and never
    downloaded. Off-site hosts are left to Scrapy's OffsiteMiddleware, which the spiders
    count (``offsite``, ``offsite_redirect``). A redirect to another scheme, which Scrapy would
    hand on as a 30x response, is refused here too. Placed before the mirror and the WARC
    replay, so it judges the URLs the documents named."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.mirror = (crawler.settings.get("INGEST_MIRROR") or "").rstrip("/")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def refusal(self, url: str) -> str | None:
        spider: Spider | None = self.crawler.spider
        check = getattr(spider, "url_refusal", None)
        reason = check(url) if callable(check) else url_refusal(url)
        return None if reason == "offsite" else reason

    def refuse(self, reason: str, url: str) -> RefusedUrl:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"ingest/filtered/{reason}")
        return RefusedUrl(reason, url)

    def process_request(self, request: Request) -> None:
        url = request.url
        if self.mirror and url.startswith(self.mirror + "/") and request.meta.get("mirror_of"):
            url = request.meta["mirror_of"]  # the loopback mirror's copy: judged as the real URL
        if (reason := self.refusal(url)) is not None:
            raise self.refuse(reason, url)

    def process_response(self, request: Request, response: Response) -> Response:
        """A 30x to another scheme, which RedirectMiddleware leaves unfollowed."""
        location = response.headers.get(b"Location")
        if response.status in REDIRECT_CODES and location:
            target = location.decode("latin-1").strip()
            with contextlib.suppress(ValueError):
                target = urljoin(response.url, target)
            if self.refusal(target) == "scheme":
                raise self.refuse("scheme", target)
        return response


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
