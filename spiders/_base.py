"""What every news spider shares: turning an article response into one item, or a counted drop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response, TextResponse

from ingest.dates import utc_now_iso
from ingest.extract import parse_page
from ingest.items import ArticleItem
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

    def parse_article(self, response: Response, **_: Any) -> Iterator[ArticleItem]:
        """One article page → one item; non-HTML and empty responses are counted drops."""
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
        yield parse_page(response.selector, response.url, fetched_at=utc_now_iso(), site=self.site)
