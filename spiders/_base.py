"""What every news spider shares: turning an article response into one item, or a counted drop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.utils.request import fingerprint
from twisted.python.failure import Failure

from ingest.crawl.decoding import better_encoding, looks_binary
from ingest.crawl.failures import failure_reason
from ingest.crawl.feeds import DEFAULT_MAX_SIZE, FeedEntry, XmlReport, iter_feed
from ingest.crawl.incremental import ARTICLE, SEEN_URL, SkippedRequest
from ingest.crawl.middlewares import RefusedUrl, on_domains, url_refusal
from ingest.dates import utc_now_iso
from ingest.items import ArticleItem, Listing
from ingest.sites import Site, site_for_url, site_name

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class NewsSpider(scrapy.Spider):
    """Base spider: ``parse_article`` is the one article path for every site."""

    site: ClassVar[Site | None] = None
    run_args: dict[str, str]  # the spider arguments, recorded with the run
    # Explicit ports a URL may name besides the scheme's default; None: any (``url_refusal``).
    allowed_ports: frozenset[int] | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_args = {k: str(v) for k, v in kwargs.items() if k != "name"}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """The spider, listening for the ends Scrapy gives no errback: an exception in a
        callback or an item pipeline, and a redirect the scheduler filters (offsite, seen)."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        crawler.signals.connect(spider.callback_failed, signal=signals.spider_error)
        crawler.signals.connect(spider.redirect_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(spider.redirect_dropped, signal=signals.request_dropped)
        return spider

    def item_failed(self, item: Any, failure: Failure, **_: Any) -> None:
        """An exception (not a DropItem) in an item pipeline: Scrapy logs it and the page is
        gone; counted as ``ingest/dropped/pipeline_error``. This and ``spider_error`` are the
        issue's ``ingest/dropped/error``, named by where the exception was raised."""
        detail = f"{type(failure.value).__name__}: {failure.value}"[:300]
        self.drop("pipeline_error", str(getattr(item, "url", "?")), detail)

    def callback_failed(self, failure: Failure, response: Response, **_: Any) -> None:
        """An exception in a callback (an article or a whole sitemap lost there):
        ``ingest/dropped/spider_error``."""
        detail = f"{type(failure.value).__name__}: {failure.value}"[:300]
        self.drop("spider_error", response.url, detail)

    def url_refusal(self, url: str) -> str | None:
        """Why a URL from a document is not fetched (``ingest.crawl.middlewares.url_refusal`` with
        this spider's domains and ports): the one check for feed, sitemap, link, redirect and meta
        refresh URLs. None when it may be fetched."""
        domains = [d for d in getattr(self, "allowed_domains", None) or [] if d]
        return url_refusal(url, domains, self.allowed_ports)

    def offsite(self, url: str) -> bool:
        """What Scrapy's OffsiteMiddleware filters: a host outside ``allowed_domains``."""
        domains = [d for d in getattr(self, "allowed_domains", None) or [] if d]
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return bool(domains)
        return bool(domains) and not on_domains(host, domains)

    def redirect_chain(self, request: scrapy.Request) -> list[str]:
        """The URLs a redirected request came through, as the site named them: the listed one
        first (``SEEN_URL``, set before any mirror), then each hop; hops through the loopback
        mirror of the demo and tests (``INGEST_MIRROR``) get their real host back."""
        base = (self.settings.get("INGEST_MIRROR") or "").rstrip("/")
        scheme = urlsplit(request.url).scheme
        hops = [
            f"{scheme}://{url[len(base) + 1 :]}" if base and url.startswith(base + "/") else url
            for url in request.meta.get("redirect_urls") or []
        ]
        listed = request.meta.get(SEEN_URL)
        return [listed, *hops] if listed else hops

    def redirect_scheduled(self, request: scrapy.Request, **_: Any) -> None:
        """An article redirected to another site is filtered by OffsiteMiddleware when it is
        scheduled, without an errback: counted here as ``ingest/dropped/offsite_redirect``
        (``-a domains=`` allows the new host). Same test as the middleware's, which skips
        ``dont_filter`` requests (a mirrored redirect is scheduled again without it)."""
        if not request.meta.get("redirect_urls") or not request.meta.get(ARTICLE):
            return
        if request.dont_filter or request.meta.get("allow_offsite"):
            return
        if self.offsite(request.url):
            source = self.redirect_chain(request)[0]
            self.drop("offsite_redirect", source, f"redirected to {request.url}")

    def redirect_dropped(self, request: scrapy.Request, **_: Any) -> None:
        """A redirected article request the dupefilter refused (no errback either).

        A meta refresh back to a URL of its own chain is a reload timer, not a redirect: the
        page is downloaded once more without following redirects and parsed
        (``ingest/refetched/meta_refresh``). Any other redirect to a URL this crawl already
        requested is counted as ``ingest/dropped/duplicate_redirect`` (that page is the one
        stored). Requests that were not redirected are left alone: a resumed crawl refuses
        the ones its first part handled."""
        if not request.meta.get("redirect_urls") or not request.meta.get(ARTICLE):
            return
        sources = self.redirect_chain(request)
        reasons = request.meta.get("redirect_reasons") or []
        own = fingerprint(request)
        loop = any(fingerprint(request.replace(url=url)) == own for url in sources)
        if loop and reasons and reasons[-1] == "meta refresh" and self.crawler.engine:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("ingest/refetched/meta_refresh")
            self.logger.info("meta refresh to itself, fetched again unredirected: %s", request.url)
            meta = {**request.meta, "dont_redirect": True}
            self.crawler.engine.crawl(request.replace(dont_filter=True, meta=meta))
            return
        detail = f"redirected to {request.url}, already requested"
        self.drop("duplicate_redirect", sources[0], detail)

    def drop(self, reason: str, url: str, detail: str = "") -> None:
        """Count and log a page that cannot become an item (stat ``ingest/dropped/<reason>``)."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"ingest/dropped/{reason}")
        self.logger.info("dropped (%s): %s%s", reason, url, f" ({detail})" if detail else "")

    def request_failed(self, failure: Failure) -> None:
        """Errback: a request that got no usable response, once retries and redirects gave up,
        is a counted drop (``ingest/dropped/<reason>``, see ``ingest.crawl.failures``). robots.txt
        refusals are already counted by Scrapy (``robotstxt/forbidden``) and only logged."""
        request = getattr(failure, "request", None)
        url = request.url if isinstance(request, scrapy.Request) else "?"
        if isinstance(failure.value, SkippedRequest):
            return  # an unchanged article: counted as ingest/skipped/<reason>, not a drop
        if isinstance(failure.value, RefusedUrl):
            return  # counted as ingest/filtered/<reason> by UrlGuardMiddleware
        reason = failure_reason(failure)
        if reason == "robots_forbidden":
            self.logger.debug("robots.txt forbids %s", url)
            return
        self.drop(reason, url, f"{type(failure.value).__name__}: {failure.value}"[:300])

    def xml_max_size(self) -> int:
        """Cap on a (decompressed) feed or sitemap: ``DOWNLOAD_MAXSIZE``, as for any download."""
        return self.crawler.settings.getint("DOWNLOAD_MAXSIZE") or DEFAULT_MAX_SIZE

    def account_xml(self, report: XmlReport, url: str) -> None:
        """Count and log what went wrong reading one feed or sitemap (the crawl goes on)."""
        assert self.crawler.stats is not None
        stats = self.crawler.stats
        stats.inc_value("ingest/xml/documents")
        stats.inc_value("ingest/xml/entries", report.entries)
        if report.errors:
            stats.inc_value("ingest/xml/malformed")
            stats.inc_value("ingest/xml/errors", report.errors)
            self.logger.warning(
                "malformed XML, %d error(s), %d entries recovered: %s (%s)",
                report.errors,
                report.entries,
                url,
                "; ".join(report.messages),
            )
        if report.bad_dates:  # the entries went on undated
            stats.inc_value("ingest/fields/bad_date", report.bad_dates)
            self.logger.info("%d unusable date(s) in %s", report.bad_dates, url)
        if report.too_large:
            self.drop("xml_too_large", url, f"over {self.xml_max_size()} bytes, rest ignored")
        if not report.entries:
            self.drop("no_entries", url, f"root element: {report.root or 'none'}")

    def feed_entries(self, response: Response) -> Iterator[FeedEntry]:
        """RSS/Atom entries of a feed response, read by the safe parser (``ingest.crawl.feeds``)."""
        report = XmlReport()
        yield from iter_feed(
            response.body, base_url=response.url, max_size=self.xml_max_size(), report=report
        )
        self.account_xml(report, response.url)

    def parse_article(
        self, response: Response, listing: Listing | None = None, **_: Any
    ) -> Iterator[ArticleItem]:
        """One article page → one item, not parsed yet: what the spider knows of the page and
        its HTML (``ExtractionPipeline`` parses it, on the crawl's CPU pool). Non-HTML and empty
        responses are counted drops.

        ``listing`` is what the feed, sitemap or WARC record that led here said of the page.
        """
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        # Scrapy picks the response class from the URL too (.html → HtmlResponse), so a PDF
        # served under an article URL arrives as HtmlResponse: the header decides.
        mime = content_type.split(";")[0].strip().lower()
        if not isinstance(response, TextResponse) or (mime and mime not in HTML_TYPES):
            self.drop("non_html", response.url, content_type or "no Content-Type")
            return
        if not response.body.strip():
            self.drop("empty_page", response.url)
            return
        if looks_binary(response.body):
            self.drop("binary", response.url, content_type or "no Content-Type")
            return
        if (encoding := better_encoding(response)) is not None:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("ingest/encoding/corrected")
            self.logger.info("decoded as %s, not %s: %s", encoding, response.encoding, response.url)
            response = response.replace(encoding=encoding)
        site = self.site or site_for_url(response.url)
        item = ArticleItem(
            url=response.url,  # until extraction reads the page's canonical
            fetched_url=response.url,
            site=site_name(response.url, site),
            fetched_at=utc_now_iso(),
            html=response.text,
        )
        if listing is not None:
            listing.apply(item)
        yield item  # parsed by ExtractionPipeline, the first of ITEM_PIPELINES
