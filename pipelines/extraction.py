"""Parsing: a downloaded page becomes an item, every field extracted, on the crawl's CPU pool."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from ingest.crawl.workers import CPU_STAT, CpuPool, microseconds
from ingest.extract import Limits, PageRefused, extract_page, html_selector
from ingest.items import ArticleItem


@dataclass(frozen=True)
class Parsed:
    """What ``parse`` made of a page: the item, or why the page is refused (a bound)."""

    item: ArticleItem | None
    refused: str | None  # the ingest/dropped/<reason>
    message: str
    parse_seconds: float  # of the call's CPU, the lxml parse (the rest is extraction)


def parse(page: ArticleItem, limits: Limits) -> Parsed:
    """The pool's work for one page (a spider's item, ``html`` set): parse (lxml), then extract
    every field."""
    start = time.thread_time()
    sel = html_selector(page.html or "")
    parsed = time.thread_time() - start
    try:
        return Parsed(extract_page(page, sel, limits), None, "", parsed)
    except PageRefused as exc:
        return Parsed(None, exc.reason, str(exc), parsed)


class ExtractionPipeline:
    """Reads the ``ArticleItem`` a spider yields (the page's HTML in ``html``); returns it
    parsed: every field extracted, what the spider knew kept, ``body_html`` still the raw
    article fragment, ``html`` None. Items without ``html`` pass through.

    Drops a page over a bound (``INGEST_MAX_PARAGRAPHS``: ``ingest/dropped/<reason>``). Stats:
    ``ingest/fields/<flag>`` for what extraction left out, ``ingest/cpu_us/parse`` and
    ``ingest/cpu_us/extract``. Runs on the crawl's ``CpuPool`` (``ingest/crawl/workers.py``), whose
    ``INGEST_POOL_AFTER`` counts the pages that reach this pipeline.
    """

    def __init__(self, pool: CpuPool, stats: StatsCollector, limits: Limits) -> None:
        self.pool = pool
        self.stats = stats
        self.limits = limits

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(CpuPool.of(crawler), crawler.stats, Limits.from_settings(crawler.settings))

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or item.html is None:
            return item
        self.pool.page()
        parsed, seconds = await self.pool.run(item.fetched_url, parse, item, self.limits)
        self.stats.inc_value(CPU_STAT + "parse", microseconds(parsed.parse_seconds))
        self.stats.inc_value(CPU_STAT + "extract", microseconds(seconds - parsed.parse_seconds))
        if parsed.item is None:
            self.stats.inc_value(f"ingest/dropped/{parsed.refused}")
            raise DropItem(parsed.message, log_level="INFO")
        for flag in parsed.item.flags:  # only extraction has flagged it so far
            self.stats.inc_value(f"ingest/fields/{flag}")
        return parsed.item
