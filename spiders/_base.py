"""What every news spider shares: turning an article response into one item, or a counted drop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from ingest.dates import utc_now_iso
from ingest.decoding import better_encoding, looks_binary
from ingest.extract import Page, extract_page
from ingest.failures import failure_reason
from ingest.feeds import DEFAULT_MAX_SIZE, FeedEntry, XmlReport, iter_feed
from ingest.incremental import SkippedRequest
from ingest.items import ArticleItem, Listing
from ingest.sites import Site

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class NewsSpider(scrapy.Spider):
    """Base spider: ``parse_article`` is the one article path for every site."""

    site: ClassVar[Site | None] = None
    run_args: dict[str, str]  # the spider arguments, recorded with the run

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_args = {k: str(v) for k, v in kwargs.items() if k != "name"}

    def drop(self, reason: str, url: str, detail: str = "") -> None:
        """Count and log a page that cannot become an item (stat ``ingest/dropped/<reason>``)."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"ingest/dropped/{reason}")
        self.logger.info("dropped (%s): %s%s", reason, url, f" ({detail})" if detail else "")

    def request_failed(self, failure: Failure) -> None:
        """Errback: a request that got no usable response, once retries and redirects gave up,
        is a counted drop (``ingest/dropped/<reason>``, see ``ingest.failures``). robots.txt
        refusals are already counted by Scrapy (``robotstxt/forbidden``) and only logged."""
        request = getattr(failure, "request", None)
        url = request.url if isinstance(request, scrapy.Request) else "?"
        if isinstance(failure.value, SkippedRequest):
            return  # an unchanged article: counted as ingest/skipped/<reason>, not a drop
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
        if report.too_large:
            self.drop("xml_too_large", url, f"over {self.xml_max_size()} bytes, rest ignored")
        if not report.entries:
            self.drop("no_entries", url, f"root element: {report.root or 'none'}")

    def feed_entries(self, response: Response) -> Iterator[FeedEntry]:
        """RSS/Atom entries of a feed response, read by the safe parser of ``ingest.feeds``."""
        report = XmlReport()
        yield from iter_feed(
            response.body, base_url=response.url, max_size=self.xml_max_size(), report=report
        )
        self.account_xml(report, response.url)

    def parse_article(
        self, response: Response, listing: Listing | None = None, **_: Any
    ) -> Iterator[ArticleItem | Page]:
        """One article page → one item; non-HTML and empty responses are counted drops.

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
        page = Page(
            url=response.url,
            html=response.text,
            fetched_at=utc_now_iso(),
            site=self.site,
            listing=listing,
        )
        # The project's crawls parse in ExtractionPipeline (on a worker process when
        # INGEST_WORKERS > 0); without it (a spider called directly) the page is parsed here.
        if self.settings.getbool("INGEST_DEFER_PARSING"):
            yield page
        else:
            yield extract_page(page)
